"""The demo, run like production on a machine with nothing but Python: `make demo`.

Starts the embedded PostgreSQL and Redis (config/embedded.py) unless
DATABASE_URL / REDIS_URL name servers, migrates, loads the reference data and
the demo data, then runs a Celery worker, Celery beat and the web server as
child processes and prints, for every demo login, the page to open. Ctrl-C
(or SIGTERM) stops everything it started, the embedded servers included; the
data stays in var/ for the next run.

Options: --host, --port (127.0.0.1:8000); --stop stops embedded servers left
running by processes started by hand. EMBEDDED_DIR moves the embedded servers'
data and the logs (var/ by default).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import embedded  # noqa: E402 - after the project is on the path

READY_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 20


class Stop(Exception):
    """Raised by the signal handler: Ctrl-C or SIGTERM."""


def _on_signal(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _prepare(env: dict) -> list[tuple[str, str, str]]:
    """Migrate, load the reference and demo data; return (username, role, page) for every demo login."""
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections

    from enrollment.api.permissions import is_bureau_staff
    from enrollment.querysets import membership_of

    call_command("migrate", interactive=False, verbosity=0)
    call_command("loaddata", "reference", verbosity=0)
    call_command("seed_demo")
    _manual_screenshots(call_command)
    logins = []
    for user in get_user_model().objects.filter(is_active=True).order_by("username"):
        membership = membership_of(user)
        if user.is_superuser:
            logins.append((user.username, "admin", "/admin/"))
        elif is_bureau_staff(user):
            logins.append((user.username, membership.role, "/bureau/"))
        elif membership is not None and membership.role == "coordinator":
            logins.append((user.username, "coordinator", "/"))
    # The children open their own connections; this process keeps none open while it waits.
    connections.close_all()
    return logins


def _manual_screenshots(call_command) -> None:
    """A fresh demo's manual shows the portal, not placeholders: take the screenshots missing (needs Chromium)."""
    from coordinators import manual, manual_screenshots

    if all((manual.SCREENSHOT_DIR / step.filename).exists() for step in manual_screenshots.STEPS):
        return
    if not Path(manual_screenshots.CHROMIUM).exists():
        _say("操作手册截图未生成：未找到 Chromium（make system-packages 后运行 python manage.py manual_screenshots）")
        return
    try:
        call_command("manual_screenshots")
    except Exception as exc:  # noqa: BLE001 - the demo runs without the manual's pictures
        _say(f"操作手册截图未生成：{exc}")


def _start(name: str, args: list[str], env: dict, logs: Path) -> subprocess.Popen:
    log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
    # Its own session: Ctrl-C in the terminal reaches this launcher only, which then
    # stops the children in order, each with its own process group (a worker's pool included).
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health/", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop_children(children: dict[str, subprocess.Popen]) -> None:
    # Web first (no new jobs), then beat (no new schedule runs), then the worker (finishes its task).
    for name in ("web", "beat", "worker"):
        process = children.get(name)
        if process is None or process.poll() is not None:
            continue
        _say(f"停止 {name} …")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for process in children.values():
        # Whatever a child left behind in its group (a worker's pool processes).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--stop", action="store_true", help="stop the embedded servers left running, then exit")
    args = parser.parse_args()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    var = Path(os.environ.get("EMBEDDED_DIR") or ROOT / "var").resolve()
    if args.stop:
        embedded.stop(var)
        return 0
    logs = var / "log"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env["EMBEDDED_DIR"] = str(var)
    python = sys.executable
    children: dict[str, subprocess.Popen] = {}
    started = {"postgres": False, "redis": False}
    code = 0
    try:
        started = {"postgres": not env.get("DATABASE_URL"), "redis": not env.get("REDIS_URL")}
        if any(started.values()):
            _say(f"启动内置 PostgreSQL / Redis（数据目录 {var}）…")
        if started["postgres"]:
            env["DATABASE_URL"] = embedded.postgres_url(var)
        if started["redis"]:
            env["REDIS_URL"] = embedded.redis_url(var)
        _say("迁移数据库、加载参考数据和演示数据 …")
        logins = _prepare(env)

        url = f"http://{args.host}:{args.port}"
        celery = [python, "-m", "celery", "-A", "config"]
        children["worker"] = _start("worker", [*celery, "worker", "--loglevel=INFO", "--concurrency=2",
                                               "--without-gossip", "--without-mingle"], env, logs)
        children["beat"] = _start("beat", [*celery, "beat", "--loglevel=INFO"], env, logs)
        children["web"] = _start("web", [python, "manage.py", "runserver", "--noreload", f"{args.host}:{args.port}"],
                                 env, logs)

        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not _healthy(url):
            for name, process in children.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} 退出（代码 {process.returncode}），见 {logs / (name + '.log')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"网站 {READY_TIMEOUT_SECONDS} 秒内未就绪，见 {logs / 'web.log'}")
            time.sleep(0.5)

        _say()
        _say(f"演示系统已启动：{url}/   （后台任务由 Celery worker 执行，定时任务由 beat 触发）")
        _say("用下列账户登录（密码见上），各自打开：")
        for username, role, page in logins:
            _say(f"  {username:<14} {role:<15} {url}{page}")
        _say(f"日志：{logs}/web.log、worker.log、beat.log")
        _say("按 Ctrl-C 停止全部进程。")
        while True:
            for name, process in children.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} 意外退出（代码 {process.returncode}），见 {logs / (name + '.log')}")
            time.sleep(1)
    except Stop:
        _say()
    except Exception as exc:  # noqa: BLE001 - reported, then everything started is stopped
        _say(f"演示启动失败：{exc}")
        code = 1
    finally:
        # A second Ctrl-C must not cut the shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_children(children)
        if any(started.values()):
            _say("停止内置 PostgreSQL / Redis …")
            embedded.stop(var, **started)
        _say("已全部停止。")
    return code


if __name__ == "__main__":
    sys.exit(main())
