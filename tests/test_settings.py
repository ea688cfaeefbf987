"""The settings refuse to start a production process without a secret key."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_django(**env):
    clean = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60,
    )


def test_without_secret_key_and_debug_off_the_process_refuses_to_start():
    result = start_django()
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_a_development_machine_starts_without_secret_key_when_debug_is_on():
    # The run's own servers: without them a development process would start embedded ones in var/ and leave them.
    result = start_django(DEBUG="1", DATABASE_URL=os.environ["DATABASE_URL"], REDIS_URL=os.environ["REDIS_URL"])
    assert result.returncode == 0, result.stderr
