"""Test-run defaults: the machine's PostgreSQL and Redis, tasks in-process unless a test starts a worker.

On a machine without those servers (nothing listening on their usual ports) the
embedded ones of config/embedded.py take their place, so `make test` needs
nothing but Python. DATABASE_URL / REDIS_URL, when set, win over both.
"""

import os
import socket
from pathlib import Path
from urllib.parse import quote

from config import embedded

ROOT = Path(__file__).resolve().parent.parent


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _default(name: str, local_url: str, port: int, start) -> None:
    if os.environ.get(name):
        return
    if _listening(port):
        os.environ[name] = local_url
    else:
        os.environ[name] = start(Path(os.environ.get("EMBEDDED_DIR") or ROOT / "var"))


os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
_default("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/insurance", 5432, embedded.postgres_url)
_default("REDIS_URL", "redis://127.0.0.1:6379/0", 6379, embedded.redis_url)
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw"):
    # pytest-xdist runs the suite in several processes: each gets its own test database
    # (pytest-django's suffix), Redis database and file folders, so a worker test's broker,
    # a cache flush or the sweeper of staged files never touches another process's.
    _index = int(_worker[2:])
    _base, _, _db = os.environ["REDIS_URL"].rpartition("/")
    os.environ["REDIS_URL"] = f"{_base}/{(int(_db or 0) + _index) % 16}"
    _own = ROOT / "var" / "test-workers" / _worker
    os.environ.setdefault("PRIVATE_MEDIA_ROOT", str(_own / "private"))
    os.environ.setdefault("GRADUATE_FEED_INBOX", str(_own / "inbox" / "graduates"))
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("LOG_JSON", "0")


def database_url(settings_dict: dict, name: str | None = None) -> str:
    """URL of the test run's database for a process a test starts (a Celery worker, pg_dump).

    The host is quoted: the embedded server's is the path of its socket directory.
    """
    credentials = settings_dict["USER"] + (f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else "")
    host = quote(settings_dict["HOST"] or "127.0.0.1", safe="")
    return f"postgres://{credentials}@{host}:{settings_dict['PORT'] or 5432}/{name or settings_dict['NAME']}"
