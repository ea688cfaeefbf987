"""Production and development settings both start; production passes Django's deployment checklist."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(env: dict, *args: str) -> subprocess.CompletedProcess:
    # A clean environment: the test run's own variables (secure cookies off...) must not leak in.
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "LOG_JSON": "0",
            "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"]}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_the_deployment_checklist():
    # Every check, the API schema generator's included: a view it cannot describe is a warning here.
    result = _run(
        {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "example.org"},
        "manage.py", "check", "--deploy", "--fail-level", "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _run({"DEBUG": "0", "ALLOWED_HOSTS": "example.org"}, "manage.py", "check")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_development_mode_sends_tasks_to_a_worker_and_serves_no_media_url():
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "from django.core.management import call_command; call_command('check'); "
        "print(json.dumps([settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER, settings.DEBUG, "
        "settings.MEDIA_URL]))"
    )
    result = _run({"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings"}, "-c", code)
    assert result.returncode == 0, result.stderr
    engine, eager, debug, media_url = json.loads(result.stdout.strip().splitlines()[-1])
    assert engine == "django.db.backends.postgresql"
    assert media_url is None  # uploads are never served by URL
    assert eager is False and debug is True


def test_any_command_without_a_secret_key_says_so_instead_of_a_traceback():
    result = _run({"DEBUG": "0", "ALLOWED_HOSTS": "example.org"}, "manage.py", "makemigrations", "--check", "--dry-run")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
