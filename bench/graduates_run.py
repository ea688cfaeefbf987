"""The nightly graduate deregistration at city scale, against its floor and the old one-UPDATE baseline.

Run: .venv/bin/python bench/graduates_run.py [--repeat N]
Uses DATABASE_URL (default a scratch database ``bench_graduates``, created and
migrated if missing). THE SCRIPT EMPTIES the student, enrollment, roster,
audit and graduate tables of that database first: never point it at real data.

Loads BENCH_STUDENTS students (default 200,000) of BENCH_SCHOOLS schools,
each with an enrollment on an open roster of next year's insurance year (its
window open today), and BENCH_GRADUATES graduates (default 50,000: 99% known
students, 0.5% name mismatches, 0.5% unknown numbers) in BENCH_FEEDS feeds,
all with COPY. The issue's size is BENCH_STUDENTS=2000000 BENCH_GRADUATES=500000;
the default is a tenth of it, so that a run takes a few minutes on the 2-core
machine (same shape, same ratios of graduates to students and to schools).

Times ``deregistration_run`` end to end and, on the same data, two references:
  - the floor: the same rows written to the same tables by bare set-based SQL
    in one transaction, rolled back: the graduates' records matched to their
    students, enrollments and rosters in one join (identity number, exact name),
    then UPDATE ... FROM of the records' outcomes, of the students (graduated),
    of the enrollments (deregistered), one INSERT ... SELECT of their audit
    rows, the rosters' version bump, the deferred constraints checked; the
    script stops if the floor wrote other counts of records, students,
    enrollments or audit rows than the run;
  - the old baseline (issue 6): COPY the identity numbers into a temp table and
    one UPDATE ... FROM of the students, rolled back.
Every sample starts from the data as loaded (the run's writes undone, the
tables vacuumed and analyzed, a checkpoint). With --repeat N the old baseline,
the floor and the run are each measured N times, interleaved (floor then run,
then run then floor, ...) so that load elsewhere on the machine hits both alike,
and the best of each is compared. Target: run <= 1.3x the floor. BENCH_REUSE=1
reuses the data an earlier run loaded. LOG_LEVEL=DEBUG prints each statement's time.
Figures of the last runs on this machine: bench/README.md.
"""

import argparse
import datetime
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_graduates")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import dj_database_url  # noqa: E402
import floor  # noqa: E402  (bench/floor.py, beside this script)
import psycopg2  # noqa: E402

STUDENTS = int(os.environ.get("BENCH_STUDENTS", "200000"))
GRADUATES = int(os.environ.get("BENCH_GRADUATES", "50000"))
SCHOOLS = int(os.environ.get("BENCH_SCHOOLS", str(max(1, STUDENTS // 1000))))
FEEDS = int(os.environ.get("BENCH_FEEDS", "5"))

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"



def _name(n: int) -> str:
    # Names hold no Arabic digits (the student rules refuse them).
    return "学生" + "".join("零一二三四五六七八九"[int(d)] for d in str(n))

def ensure_database():
    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    admin = psycopg2.connect(
        dbname="postgres", user=config["USER"], password=config["PASSWORD"] or None, host=config["HOST"], port=config["PORT"] or 5432
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{config["NAME"]}"')
    admin.close()


def identity_number(n: int) -> str:
    """The n-th valid number: a Guangzhou region code, one of 4,000 birth dates, a sequence 0-999."""
    birth = datetime.date(2004, 1, 1) + datetime.timedelta(days=(n // 1000) % 4000)
    region = ("440104", "440105", "440106", "440111")[n // 4_000_000]
    body = f"{region}{birth:%Y%m%d}{n % 1000:03d}"
    return body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def copy_model(cursor, model, rows, columns):
    """COPY rows (tuples in ``columns`` order) into the model's table; other fields take their defaults."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = [f.column for f in fields]
    index = {c: i for i, c in enumerate(columns)}
    defaults = {}
    for field in fields:
        if field.column not in index:
            value = field.get_default()
            defaults[field.column] = _text(value)

    def lines():
        for row in rows:
            yield "\t".join(_text(row[index[c]]) if c in index else defaults[c] for c in names) + "\n"

    buffer = io.StringIO()
    count = 0
    for line in lines():
        buffer.write(line)
        count += 1
        if count % 200_000 == 0:
            buffer.seek(0)
            cursor.copy_expert(f'COPY {model._meta.db_table} ({", ".join(names)}) FROM STDIN', buffer)
            buffer = io.StringIO()
    buffer.seek(0)
    cursor.copy_expert(f'COPY {model._meta.db_table} ({", ".join(names)}) FROM STDIN', buffer)


def _text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        import json

        return json.dumps(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)


def load(today, now, graduation):
    from django.db import connection as conn

    from enrollment.models import (
        AuditEvent,
        ChargeCorrection,
        City,
        Enrollment,
        InsuranceYear,
        Office,
        Roster,
        School,
        Student,
    )
    from graduates.models import DeregistrationRun, GraduateFeed, GraduateRecord

    print(f"loading {STUDENTS:,} students in {SCHOOLS:,} schools, {GRADUATES:,} graduates in {FEEDS} feeds ...", flush=True)
    started = time.monotonic()
    with conn.cursor() as cursor:
        emptied = (GraduateRecord, GraduateFeed, DeregistrationRun, AuditEvent, ChargeCorrection, Enrollment, Roster, Student)
        cursor.execute(f"TRUNCATE {', '.join(floor.table(m) for m in emptied)} RESTART IDENTITY CASCADE")
    city, _ = City.objects.get_or_create(code="bench-city", defaults={"name": "基准市"})
    office, _ = Office.objects.get_or_create(code="bench-office", defaults={"city": city, "name": "基准分局", "district": "基准区", "address": "-"})
    InsuranceYear.objects.filter(city=city).delete()
    year = InsuranceYear.objects.create(
        city=city,
        label="bench",
        coverage_start=datetime.date(today.year + 1, 1, 1),
        coverage_end=datetime.date(today.year + 1, 12, 31),
        fee_standard="200.00",
        window_start=today - datetime.timedelta(days=30),
        window_end=today + datetime.timedelta(days=30),
        collection_route="bank_debit",
    )
    existing = set(School.objects.filter(code__startswith="BENCH-").values_list("code", flat=True))
    School.objects.bulk_create(
        School(code=f"BENCH-{i:05d}", name=f"基准学校{i}", kind="primary_secondary", office=office)
        for i in range(SCHOOLS)
        if f"BENCH-{i:05d}" not in existing
    )
    schools = list(School.objects.filter(code__startswith="BENCH-").order_by("code").values_list("id", "code")[:SCHOOLS])
    Roster.objects.bulk_create(Roster(school_id=sid, insurance_year=year) for sid, _code in schools)

    def school_of(n):
        return schools[n % len(schools)]

    with conn.cursor() as cursor:
        copy_model(
            cursor,
            Student,
            (
                (identity_number(n), _name(n), "M" if int(identity_number(n)[16]) % 2 else "F",
                 datetime.date(2004, 1, 1) + datetime.timedelta(days=(n // 1000) % 4000), school_of(n)[0], 9,
                 f"{n % 20}班", "in_school", now, now)
                for n in range(STUDENTS)
            ),
            ["identity_number", "name", "sex", "birth_date", "school_id", "grade", "class_name", "status", "created_at", "updated_at"],
        )
        cursor.execute(
            f"""
            INSERT INTO {floor.table(Enrollment)} (student_id, insurance_year_id, school_id, channel, channel_reason, status,
                   status_reason, fee_due, payment_status, receipt_number, created_at, updated_at)
            SELECT id, %s, school_id, 'school', '', 'registered', '', 200.00, 'unpaid', '', now(), now() FROM {floor.table(Student)}
            """,
            [year.pk],
        )
    per_feed = GRADUATES // FEEDS
    feeds = [
        GraduateFeed.objects.create(
            source="school_roll" if i % 2 == 0 else "vocational", received_via="inbox", file_name=f"bench-{i}.csv",
            checksum=f"{i:064d}", record_count=per_feed,
        )
        for i in range(FEEDS)
    ]

    def graduate_rows():
        for g in range(FEEDS * per_feed):
            n = g * (STUDENTS // GRADUATES) if GRADUATES <= STUDENTS else g
            kind = g % 200
            if kind == 0:  # unknown identity number
                number, name = identity_number(STUDENTS + g), f"无此人{g}"
            elif kind == 1:  # name mismatch
                number, name = identity_number(n), f"别名{n}"
            else:
                number, name = identity_number(n), _name(n)
            yield (feeds[g // per_feed].pk, g % per_feed + 1, number, name, school_of(n)[1], graduation, "", "pending")

    with conn.cursor() as cursor:
        copy_model(
            cursor,
            GraduateRecord,
            graduate_rows(),
            ["feed_id", "row_number", "identity_number", "name", "school_code", "graduation_date", "class_name", "outcome"],
        )
    print(f"loaded in {time.monotonic() - started:.1f}s", flush=True)



def main():
    parser = argparse.ArgumentParser(description="The nightly deregistration against its floor (see the docstring).")
    parser.add_argument("--repeat", type=int, default=1, help="samples of run and floor, interleaved; the best of each counts")
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)

    from enrollment.models import (
        AuditEvent,
        ChargeCorrection,
        Enrollment,
        EnrollmentStatus,
        InsuranceYear,
        Roster,
        Student,
        StudentStatus,
    )
    from graduates.models import DeregistrationRun, GraduateFeed, GraduateRecord
    from graduates.services import deregistration_run

    student, enrollment, roster, audit = (floor.table(m) for m in (Student, Enrollment, Roster, AuditEvent))
    record, feed = floor.table(GraduateRecord), floor.table(GraduateFeed)
    today = timezone.localdate()
    now = timezone.now()
    graduation = datetime.date(today.year, 6, 30)
    raw = psycopg2.connect(os.environ["DATABASE_URL"])
    raw.autocommit = True

    def reset():
        """Put everything back as it was before the nightly run (a no-op after a rolled-back floor)."""
        with raw.cursor() as cursor:
            cursor.execute(f"UPDATE {student} SET status = 'in_school', status_changed_on = NULL WHERE status <> 'in_school'")
            cursor.execute(f"UPDATE {enrollment} SET status = 'registered', status_reason = '' WHERE status <> 'registered'")
            cursor.execute(f"UPDATE {roster} SET version = 0 WHERE version <> 0")
            cursor.execute(
                f"UPDATE {record} SET outcome = 'pending', student_id = NULL, school_id = NULL, "
                "insurance_year_id = NULL, enrollment_id = NULL, run_id = NULL WHERE outcome <> 'pending' OR run_id IS NOT NULL"
            )
            cursor.execute(f"UPDATE {feed} SET state = 'pending', claimed_by_run_id = NULL, claimed_at = NULL, processed_at = NULL "
                           "WHERE state <> 'pending'")
            cursor.execute(f"TRUNCATE {audit}, {floor.table(ChargeCorrection)} CASCADE")
            cursor.execute(f"DELETE FROM {floor.table(DeregistrationRun)}")

    if os.environ.get("BENCH_REUSE") == "1" and GraduateFeed.objects.filter(file_name__startswith="bench-").exists():
        print("reusing the data an earlier run loaded (each sample starts from it as loaded)", flush=True)
    else:
        load(today, now, graduation)
    touched = (student, enrollment, roster, record, audit)

    def vacuum():
        with raw.cursor() as cursor:
            for name in touched:
                cursor.execute(f"VACUUM ANALYZE {name}")
            cursor.execute("CHECKPOINT")

    year_id = InsuranceYear.objects.get(city__code="bench-city", label="bench").pk
    per_feed = GRADUATES // FEEDS
    numbers = "".join(
        identity_number(g * (STUDENTS // GRADUATES) if GRADUATES <= STUDENTS else g) + "\n" for g in range(FEEDS * per_feed)
    )

    def old_baseline() -> float:
        """Issue 6's baseline: COPY the identity numbers into a temp table, one UPDATE ... FROM; rolled back."""
        raw.autocommit = False
        with raw.cursor() as cursor:
            t0 = time.monotonic()
            cursor.execute("CREATE TEMP TABLE bench_ids (identity_number varchar(18)) ON COMMIT DROP")
            cursor.copy_expert("COPY bench_ids FROM STDIN", io.StringIO(numbers))
            cursor.execute(
                f"UPDATE {student} s SET status = 'graduated', status_changed_on = %s "
                "FROM bench_ids b WHERE s.identity_number = b.identity_number",
                [graduation],
            )
            updated = cursor.rowcount
            elapsed = time.monotonic() - t0
        raw.rollback()
        raw.autocommit = True
        print(f"old baseline: {updated:,} students updated in {elapsed:.2f}s", flush=True)
        return elapsed

    stopped, graduated, registered, deregistered = (
        "stopped", StudentStatus.GRADUATED.value, EnrollmentStatus.REGISTERED.value, EnrollmentStatus.DEREGISTERED.value,
    )
    audit_columns = ("at", "actor_id", "actor_label", "source", "action", "model", "object_id", "school_id", "student_id",
                     "roster_id", "changes", "note")

    def floor_run() -> tuple[float, dict]:
        """The same rows written by bare set-based SQL, rolled back (see the module's docstring)."""
        raw.autocommit = False
        counts = {}
        with floor.rolled_back(raw) as (cursor, timing):
            cursor.execute(
                f"""
                CREATE TEMP TABLE floor_match ON COMMIT DROP AS
                SELECT r.id AS record_id, s.id AS student_id, s.school_id, e.id AS enrollment_id, ro.id AS roster_id,
                       r.graduation_date,
                       CASE WHEN s.id IS NULL THEN 'unknown_identity' WHEN s.name <> r.name THEN 'name_mismatch'
                            ELSE %s END AS outcome
                  FROM {record} r
                  JOIN {feed} f ON f.id = r.feed_id AND f.file_name LIKE 'bench-%%'
                  LEFT JOIN {student} s ON s.identity_number = r.identity_number
                  LEFT JOIN {enrollment} e ON e.student_id = s.id AND e.insurance_year_id = %s
                  LEFT JOIN {roster} ro ON ro.school_id = e.school_id AND ro.insurance_year_id = e.insurance_year_id
                """,
                [stopped, year_id],
            )
            cursor.execute(
                f"""
                UPDATE {record} r SET outcome = m.outcome, student_id = m.student_id, school_id = m.school_id,
                       insurance_year_id = CASE WHEN m.student_id IS NULL THEN NULL ELSE %s END,
                       enrollment_id = m.enrollment_id
                  FROM floor_match m WHERE r.id = m.record_id
                """,
                [year_id],
            )
            counts["records"] = cursor.rowcount
            cursor.execute(
                f"UPDATE {student} s SET status = %s, status_changed_on = m.graduation_date, updated_at = now() "
                "FROM floor_match m WHERE s.id = m.student_id AND m.outcome = %s",
                [graduated, stopped],
            )
            counts["students"] = cursor.rowcount
            cursor.execute(
                f"UPDATE {enrollment} e SET status = %s, status_reason = %s, updated_at = now() "
                "FROM floor_match m WHERE e.id = m.enrollment_id AND m.outcome = %s",
                [deregistered, "毕业生停保：学籍系统报毕业（毕业日期 " + graduation.isoformat() + "）", stopped],
            )
            counts["enrollments"] = cursor.rowcount
            cursor.execute(
                f"""
                INSERT INTO {audit} ({", ".join(audit_columns)})
                SELECT now(), NULL, 'floor', 'job', 'graduate_deregistered', 'enrollment', m.enrollment_id, m.school_id,
                       m.student_id, m.roster_id, %s::jsonb, %s
                  FROM floor_match m WHERE m.outcome = %s
                """,
                [json.dumps({"status": [registered, deregistered]}), "毕业生停保减员，已从待确认名单中移除", stopped],
            )
            counts["audit rows"] = cursor.rowcount
            cursor.execute(
                f"UPDATE {roster} SET version = version + 1, updated_at = now() "
                "WHERE id IN (SELECT DISTINCT roster_id FROM floor_match WHERE outcome = %s)",
                [stopped],
            )
            counts["rosters"] = cursor.rowcount
        raw.autocommit = True
        print(f"floor: {', '.join(f'{n:,} {what}' for what, n in counts.items())} written in {timing['seconds']:.2f}s",
              flush=True)
        return timing["seconds"], counts

    def nightly_run() -> tuple[float, dict]:
        t0 = time.monotonic()
        run = deregistration_run(triggered_by="bench", collect_inbox=False)
        elapsed = time.monotonic() - t0
        print(
            f"nightly run: {run.feeds_processed} feeds, {run.record_count:,} records, {run.matched:,} matched, "
            f"{run.stopped:,} stopped, {run.exceptions:,} exceptions in {elapsed:.2f}s",
            flush=True,
        )
        with raw.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {record} WHERE outcome <> 'pending'")
            records = cursor.fetchone()[0]
            cursor.execute(f"SELECT count(*) FROM {student} WHERE status = %s", [graduated])
            students = cursor.fetchone()[0]
            cursor.execute(f"SELECT count(*) FROM {enrollment} WHERE status = %s", [deregistered])
            enrollments = cursor.fetchone()[0]
            cursor.execute(f"SELECT count(*) FROM {audit}")
            audits = cursor.fetchone()[0]
        print(f"check: {enrollments:,} enrollments deregistered, {audits:,} audit rows", flush=True)
        return elapsed, {"records": records, "students": students, "enrollments": enrollments, "audit rows": audits}

    def sample(measure):
        """One measurement from the same starting point: the data as loaded, vacuumed, analyzed, checkpointed."""
        started = time.monotonic()
        reset()
        vacuum()
        print(f"(reset, vacuumed and checkpointed in {time.monotonic() - started:.1f}s)", flush=True)
        return measure()

    # Samples interleaved (old baseline, floor, run; then old baseline, run, floor; ...) on the same data,
    # so a burst of load elsewhere on the machine hits both sides alike; the best of each is compared.
    runs, floors, olds = [], [], []
    for attempt in range(args.repeat):
        olds.append(sample(old_baseline))
        pair = (floor_run, nightly_run) if attempt % 2 == 0 else (nightly_run, floor_run)
        for measure in pair:
            seconds, counts = sample(measure)
            (floors if measure is floor_run else runs).append((seconds, counts))
    # The floor writes what the run wrote: the same records, students, enrollments and audit rows.
    written = runs[0][1]
    floor_written = {what: floors[0][1][what] for what in written}
    if floor_written != written:
        raise SystemExit(f"the floor wrote {floor_written}, the run {written}: the floor is not the run's floor")
    elapsed, floor_best, old_best = min(s for s, _ in runs), min(s for s, _ in floors), min(olds)
    print(f"size: {STUDENTS:,} students in {SCHOOLS:,} schools, {FEEDS * per_feed:,} graduates in {FEEDS} feeds")
    print(f"samples ({args.repeat} of each, interleaved): nightly run {', '.join(f'{s:.2f}' for s, _ in runs)}; "
          f"floor {', '.join(f'{s:.2f}' for s, _ in floors)}; old baseline {', '.join(f'{s:.2f}' for s in olds)}")
    if args.repeat > 1:
        pairs = ", ".join(f"{r / f:.2f}" for (r, _), (f, _) in zip(runs, floors, strict=True))
        print(f"ratio of each sample's run to its floor: {pairs}")
    print(f"nightly run {elapsed:.2f}s; floor {floor_best:.2f}s; old baseline {old_best:.2f}s (best of each)")
    print(f"floor ratio nightly run / floor:       {elapsed / floor_best:.2f} (target <= 1.3)")
    print(f"old ratio nightly run / old baseline:  {elapsed / old_best:.2f} (old target <= 1.5)")
    raw.close()


if __name__ == "__main__":
    main()
