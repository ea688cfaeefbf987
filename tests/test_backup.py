"""A backup made by scripts/backup.sh restores, with scripts/restore.sh, into an identical site."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from enrollment.models import Student
from tests.factories import StudentFactory
from tests.testenv import database_url

ROOT = Path(__file__).resolve().parents[1]
TABLES = ["enrollment_student", "enrollment_school", "enrollment_office", "auth_user", "enrollment_membership"]

pytestmark = pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")


def _url(name: str) -> str:
    return database_url(connection.settings_dict, name)


def _counts(url: str) -> dict:
    query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES)
    out = subprocess.run(["psql", "--dbname", url, "-tA", "-F", " ", "-c", query], check=True, capture_output=True, text=True)
    return {name: int(count) for name, count in (line.split() for line in out.stdout.splitlines())}


def _run(script: str, *args, **env):
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / script), *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def restore_db():
    name = connection.settings_dict["NAME"] + "_restore"
    admin = _url("postgres")
    subprocess.run(["psql", "--dbname", admin, "-c", f'DROP DATABASE IF EXISTS "{name}"'], check=True, capture_output=True)
    subprocess.run(["psql", "--dbname", admin, "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    yield _url(name)
    subprocess.run(["psql", "--dbname", admin, "-c", f'DROP DATABASE IF EXISTS "{name}"'], check=True, capture_output=True)


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_gives_the_same_rows_and_files(world, tmp_path, restore_db):
    StudentFactory.create_batch(25, school=world.school)
    media = tmp_path / "private"
    (media / "jobs" / "input").mkdir(parents=True)
    (media / "jobs" / "input" / "学生名单.xlsx").write_bytes(b"PK\x03\x04 workbook")
    source = _url(connection.settings_dict["NAME"])

    backup = _run("backup.sh", str(tmp_path / "backups"), DATABASE_URL=source, PRIVATE_MEDIA_ROOT=str(media))
    assert backup.returncode == 0, backup.stderr
    db_file, media_file = backup.stdout.split()
    assert oct(Path(db_file).stat().st_mode & 0o777) == "0o600"

    restored_media = tmp_path / "restored"
    restore = _run("restore.sh", db_file, media_file, DATABASE_URL=restore_db, PRIVATE_MEDIA_ROOT=str(restored_media))
    assert restore.returncode == 0, restore.stderr

    counts = _counts(restore_db)
    assert counts == _counts(source)
    assert counts["enrollment_student"] == Student.objects.count() == 25
    assert (restored_media / "jobs" / "input" / "学生名单.xlsx").read_bytes() == b"PK\x03\x04 workbook"

    # A second restore into the now populated database is refused, nothing is overwritten.
    again = _run("restore.sh", db_file, media_file, DATABASE_URL=restore_db, PRIVATE_MEDIA_ROOT=str(tmp_path / "x"))
    assert again.returncode == 1
    assert "already has" in again.stderr
