"""Every benchmark in bench/ still runs: each script at a tiny size, against a scratch database of its own.

Timings are not checked here (a test machine's speed says nothing); what is checked is that
each script finishes and prints its figures, the floor's and the old baseline's among them.
"""

import os
import subprocess
import sys

import psycopg2
import pytest
from django.conf import settings

from tests.testenv import ROOT, database_url

# name -> (command line arguments, environment, lines the output must hold)
SCRIPTS = {
    "import_students.py": (["200"], {}, ["floor ratio import / floor:", "old ratio import / openpyxl:", "peak RSS"]),
    "graduates_run.py": ([], {"BENCH_STUDENTS": "400", "BENCH_GRADUATES": "100"},
                         ["floor ratio nightly run / floor:", "old ratio nightly run / old baseline:"]),
    "billing_batches.py": ([], {"BENCH_STUDENTS": "300", "BENCH_SCHOOLS": "30"},
                           ["old ratio generation / old baseline:", "floor ratio generation / floor:"]),
    "enrollment_bulk.py": ([], {"BENCH_STUDENTS": "300"}, ["floor ratio", "old ratio"]),
    "load.py": (["--students", "30", "--clients", "2", "--seconds", "1", "--workers", "1"], {}, ["p95 <= 100 ms:"]),
    "rights_records_pdf.py": ([], {"BENCH_PAGES": "3"}, ["floor ratio", "old ratio"]),
}


@pytest.fixture(scope="module")
def scratch_database_url():
    """A database the benchmarks may fill and empty; its name holds "bench" (billing_batches.py insists)."""
    db = settings.DATABASES["default"]
    name = f"{db['NAME'].removeprefix('test_')}_bench_smoke"
    admin = psycopg2.connect(dbname="postgres", user=db["USER"], password=db["PASSWORD"] or None,
                             host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return database_url(db, name)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_the_benchmark_runs_at_a_tiny_size_and_prints_its_floor_and_old_ratios(script, scratch_database_url, tmp_path):
    arguments, sizes, expected = SCRIPTS[script]
    env = {
        **os.environ, **sizes, "DATABASE_URL": scratch_database_url, "PRIVATE_MEDIA_ROOT": str(tmp_path / "private"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    env.pop("PYTEST_VERSION", None)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for line in expected:
        assert line in done.stdout, done.stdout
