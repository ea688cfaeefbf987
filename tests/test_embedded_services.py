"""The embedded PostgreSQL and Redis: started once, shared by every process, stopped on request, data kept."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import redis

from config import embedded

ROOT = Path(__file__).resolve().parent.parent

# Run in a separate process: what the web server, the worker and beat each do when their settings load.
ASK = (
    "import json, sys; from pathlib import Path; from config import embedded; "
    "d = Path(sys.argv[1]); print(json.dumps([embedded.postgres_url(d), embedded.redis_url(d)]))"
)


def _ask(directory: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", ASK, str(directory)], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def _pids(directory: Path) -> tuple[int, int]:
    postgres = int((directory / "pg" / "postmaster.pid").read_text().splitlines()[0])
    return postgres, int((directory / "redis" / "redis.pid").read_text())


def _connect(url: str):
    import dj_database_url

    params = dj_database_url.parse(url)
    return psycopg2.connect(host=params["HOST"], user=params["USER"], dbname=params["NAME"])


@pytest.fixture
def directory(tmp_path):
    yield tmp_path
    embedded.stop(tmp_path)


def test_processes_starting_together_share_one_server_of_each_kind(directory):
    first, second = _ask(directory), _ask(directory)
    urls = [json.loads(p.communicate(timeout=120)[0]) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0
    assert urls[0] == urls[1]
    database_url, redis_url = urls[0]
    assert database_url.startswith("postgres://postgres@") and database_url.endswith("/insurance")
    assert redis_url.startswith("redis://127.0.0.1:")

    with _connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_setting('server_version_num')::int / 10000")
        assert cursor.fetchone() == ("insurance", 18)
    assert redis.Redis.from_url(redis_url).ping()


def test_a_later_process_reuses_the_running_servers_and_stop_ends_them_keeping_the_data(directory):
    database_url = embedded.postgres_url(directory)
    redis_url = embedded.redis_url(directory)
    pids = _pids(directory)
    with _connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE kept (value text); INSERT INTO kept VALUES ('still here')")

    later = _ask(directory)
    assert json.loads(later.communicate(timeout=120)[0]) == [database_url, redis_url]
    assert _pids(directory) == pids

    embedded.stop(directory)
    assert not any(embedded._alive(pid) for pid in pids)

    database_url = embedded.postgres_url(directory)
    assert embedded.redis_url(directory).startswith("redis://127.0.0.1:")
    assert _pids(directory)[0] != pids[0]
    with _connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT value FROM kept")
        assert cursor.fetchall() == [("still here",)]


def test_development_settings_with_nothing_set_run_on_the_embedded_servers(directory):
    code = (
        "import django, json; django.setup(); from django.conf import settings; from django.db import connection; "
        "connection.ensure_connection(); "
        "print(json.dumps([connection.vendor, settings.REDIS_URL, settings.CELERY_BROKER_URL, "
        "settings.CELERY_TASK_ALWAYS_EAGER]))"
    )
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "LOG_JSON": "0", "DEBUG": "1",
           "DJANGO_SETTINGS_MODULE": "config.settings", "EMBEDDED_DIR": str(directory)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    vendor, redis_url, broker, eager = json.loads(result.stdout.strip().splitlines()[-1])
    assert vendor == "postgresql"
    assert redis_url == broker == embedded.redis_url(directory)
    assert eager is False


def test_production_settings_refuse_to_start_without_a_database_url(directory):
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "LOG_JSON": "0", "DEBUG": "0",
           "SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "example.org", "REDIS_URL": "redis://127.0.0.1:1/0",
           "EMBEDDED_DIR": str(directory)}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr
    assert not (directory / "pg").exists()

