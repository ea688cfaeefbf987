"""Set-based enrollment of a 50,000-student school, as the Excel import does it.

Run: .venv/bin/python bench/enrollment_bulk.py  (uses DATABASE_URL, default a scratch database;
BENCH_STUDENTS, default 50,000). Everything runs inside a transaction that is rolled back at the end,
so any migrated database will do.

Prints the time of ``enrollments_refresh_bulk`` (with the deferred constraint checks of its rows)
and of ``roster_confirm``, against, measured in the same run:
  - the floor: the very rows the first refresh wrote (enrollments and their audit rows, captured with
    COPY TO in a savepoint rolled back) written again by COPY, the deferred constraints checked, rolled back;
  - the old baseline: one bulk_create of the same number of enrollment rows (no audit rows).
"""

import datetime
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_enrollment")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import floor  # noqa: E402  bench/floor.py, beside this script
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

N = int(os.environ.get("BENCH_STUDENTS", "50000"))


class Rollback(Exception):
    pass


def flush_deferred_checks():
    """Run now the foreign-key checks deferred to commit (this benchmark never commits)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def main():
    call_command("migrate", verbosity=0)
    from enrollment import identity
    from enrollment.models import (
        AuditEvent,
        ChannelRule,
        City,
        Enrollment,
        Exemption,
        ExemptionCategory,
        InsuranceYear,
        Office,
        Roster,
        School,
        Student,
    )
    from enrollment.services.common import Actor
    from enrollment.services.enrollments import enrollments_refresh_bulk
    from enrollment.services.rosters import roster_confirm

    try:
        with transaction.atomic():
            today = timezone.localdate()
            # Codes of its own: other benchmarks may have left their data in the same database.
            city = City.objects.create(code="bench-bulk-city", name="基准市")
            office = Office.objects.create(code="bench-bulk-office", city=city, name="基准分局", district="基准区", address="-")
            school = School.objects.create(code="BENCH-BULK-1", name="基准大学", kind="university", office=office)
            year = InsuranceYear.objects.create(
                city=city, label="B1", coverage_start=today + datetime.timedelta(days=60),
                coverage_end=today + datetime.timedelta(days=420), fee_standard=Decimal("140.00"),
                window_start=today - datetime.timedelta(days=10), window_end=today + datetime.timedelta(days=30),
                collection_route="tax_declaration",
            )
            ChannelRule.objects.create(insurance_year=year, order=1, condition="rural_hukou", channel="village_committee")
            category = ExemptionCategory.objects.get_or_create(city=city, code="bench-dibao", defaults={"name": "基准低保"})[0]
            students = []
            for i in range(N):
                birth = datetime.date(2000, 1, 1) + datetime.timedelta(days=i // 1000)
                number = identity.generate(region="320505", birth=birth, sequence=i % 1000)
                students.append(Student(
                    identity_number=number, name="学生" + "".join("零一二三四五六七八九"[int(d)] for d in str(i)), sex=identity.sex(number), birth_date=birth,
                    school=school, grade=1 + i % 4, hukou_rural=(i % 10 == 0),
                ))
            Student.objects.bulk_create(students, batch_size=5000)
            Exemption.objects.bulk_create([
                Exemption(identity_number=s.identity_number, category=category, source="civil_affairs",
                          valid_from=datetime.date(2000, 1, 1))
                for s in students[1::50]
            ])
            user = get_user_model().objects.create(username="bench-bulk-user")
            ids = list(Student.objects.filter(school=school).values_list("pk", flat=True))

            # Baseline: the rows alone, no decision, no audit, no lock.
            with transaction.atomic():
                started = time.perf_counter()
                Enrollment.objects.bulk_create(
                    [Enrollment(student_id=pk, insurance_year=year, school=school, fee_due=Decimal("140.00")) for pk in ids],
                    batch_size=2000,
                )
                baseline = time.perf_counter() - started
                transaction.set_rollback(True)

            roster = Roster.objects.create(school=school, insurance_year=year)
            flush_deferred_checks()  # the students' own, so neither figure below pays them

            # The floor: the rows the refresh writes, captured, then written again by COPY.
            with transaction.atomic():
                enrollments_refresh_bulk(actor=Actor.job("bench"), roster=roster)
                with connection.cursor() as cursor:
                    rows = {model: floor.capture(cursor, model, "school_id = %s", [school.pk]) for model in (Enrollment, AuditEvent)}
                transaction.set_rollback(True)
            with transaction.atomic(), connection.cursor() as cursor:
                started = time.perf_counter()
                for model, data in rows.items():
                    floor.replay(cursor, model, data)
                flush_deferred_checks()
                floor_seconds = time.perf_counter() - started
                transaction.set_rollback(True)

            started = time.perf_counter()
            changed = enrollments_refresh_bulk(actor=Actor.job("bench"), roster=roster)
            flush_deferred_checks()
            refresh = time.perf_counter() - started

            started = time.perf_counter()
            again = enrollments_refresh_bulk(actor=Actor.job("bench"), roster=roster)
            rerun = time.perf_counter() - started

            # Every paying student changes: the set-based UPDATE path.
            InsuranceYear.objects.filter(pk=year.pk).update(fee_standard=Decimal("150.00"))
            roster = Roster.objects.select_related("school", "insurance_year").get(pk=roster.pk)
            started = time.perf_counter()
            updated = enrollments_refresh_bulk(actor=Actor.job("bench"), roster=roster)
            update = time.perf_counter() - started

            roster.refresh_from_db()
            started = time.perf_counter()
            confirmation = roster_confirm(actor=Actor(user, "portal"), roster=roster, checked=True)
            confirm = time.perf_counter() - started

            print(f"students: {N}, enrolled/changed: {changed}, unchanged rerun changed: {again}")
            sizes = ", ".join(f"{floor.count_lines(data):,} {model.__name__} rows" for model, data in rows.items())
            print(f"floor: COPY of the same rows ({sizes}) with constraint checks, rolled back: {floor_seconds:.2f}s")
            print(f"old baseline: bulk_create of {N} enrollments: {baseline:.2f}s")
            print(f"enrollments_refresh_bulk (decide + insert + audit): {refresh:.2f}s  "
                  f"floor ratio {refresh / floor_seconds:.2f}x, old ratio {refresh / baseline:.2f}x")
            print(f"enrollments_refresh_bulk rerun (nothing changes): {rerun:.2f}s  ratio {rerun / baseline:.1f}x")
            print(f"enrollments_refresh_bulk after a fee change ({updated} updated + audit): {update:.2f}s  "
                  f"ratio {update / baseline:.1f}x")
            print(f"roster_confirm ({confirmation.paying_count} paying, {confirmation.exempt_count} exempt): "
                  f"{confirm:.2f}s  ratio {confirm / baseline:.2f}x")
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
