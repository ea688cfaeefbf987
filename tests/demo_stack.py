"""The demo stack (scripts/demo.py) started for a test, as a new user's shell would start it."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from config import embedded

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "demo-insure-2468"
STARTUP_TIMEOUT_SECONDS = 420


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait(predicate, timeout: float, what: str, output: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout} s; launcher output:\n{output.read_text()}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def data_dir(tmp_path: Path) -> Path:
    """``tmp_path``/var, where the embedded servers keep their data and the demo its logs.

    As root the embedded PostgreSQL runs as a system user of its own, which cannot enter pytest's
    temporary root (private to root, mode 0700): the data then lives in a directory of its own that
    the server's user can reach, and ``var`` links to it.
    """
    var = tmp_path / "var"
    if os.geteuid() == 0 and not var.exists():
        real = Path(tempfile.mkdtemp(prefix="demo-stack-"))
        real.chmod(0o755)
        var.symlink_to(real, target_is_directory=True)
    return var


def start(tmp_path: Path) -> tuple[subprocess.Popen, str, Path]:
    """Start the launcher on a free port with its servers' data in ``tmp_path``; return it once the site answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    output = tmp_path / "demo.out"
    # What a new user's shell has: no database, no Redis, none of the test run's settings.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8", "LOG_JSON": "0",
           "EMBEDDED_DIR": str(data_dir(tmp_path)), "PRIVATE_MEDIA_ROOT": str(tmp_path / "private")}
    with open(output, "wb") as out:
        launcher = subprocess.Popen([sys.executable, "scripts/demo.py", "--port", str(port)], cwd=ROOT, env=env,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait(lambda: http_ok(base + "/health/") and "Ctrl-C" in output.read_text(), STARTUP_TIMEOUT_SECONDS,
             "the demo did not come up", output)
    except BaseException:
        stop(launcher, tmp_path)
        raise
    return launcher, base, output


def stop(launcher: subprocess.Popen, tmp_path: Path) -> None:
    """Ctrl-C, as a user would; whatever is left is killed (a failed test must not leave servers behind)."""
    if launcher.poll() is None:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(90)
        except subprocess.TimeoutExpired:
            launcher.kill()
    embedded.stop(tmp_path / "var")
    discard(tmp_path)


def discard(tmp_path: Path) -> None:
    """Remove the data directory ``var`` links to (pytest removes ``tmp_path`` itself); the servers are stopped."""
    var = tmp_path / "var"
    if var.is_symlink():
        shutil.rmtree(var.resolve(), ignore_errors=True)
        var.unlink()
