"""Bank-debit batch generation for a whole city: 2,000,000 confirmed enrollments in 3,000 schools, 23 banks.

Run:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_billing .venv/bin/python bench/billing_batches.py
The database is created if missing, migrated, and its data tables are emptied: point it at a scratch
database only (its name must contain "bench"). Sizes: BENCH_STUDENTS, BENCH_SCHOOLS.

Loading uses COPY (students, enrollments, rosters, confirmations, confirmation lines, schools and
accounts across the 23 banks). Then, in a fresh process so that memory figures are not polluted by
the load, it times:
  - the old baseline: a bare ``COPY (SELECT ... the bank-file lines ...) TO STDOUT``: per school, count
    and sum of the confirmed paying lines joined to the school's account, i.e. what the files carry;
  - the floor: the same rows written to the same tables by bare set-based SQL, rolled back: the
    instructions by one INSERT ... SELECT summing the confirmation lines, one batch per bank, the
    instructions claimed by UPDATE ... FROM, the lines (attempts) by INSERT ... SELECT, the files'
    content by COPY ... TO STDOUT, the batches' totals, the rosters billed and their audit rows, the
    deferred constraints checked;
  - ``billing.services.batches_generate`` end to end: instructions by INSERT ... SELECT from the
    confirmation lines, one batch per bank, control totals, streamed file writing;
and prints time, both ratios, peak RSS and the number of SQL queries (counted with execute_wrapper).
Targets: generation <= 1.5x the old baseline (the floor ratio is printed too), peak RSS <= 300 MB,
queries proportional to batches, not students. Figures of the last runs: bench/README.md.
"""

import datetime
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_billing")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
os.environ.setdefault("PRIVATE_MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-billing-"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import floor  # noqa: E402  bench/floor.py

N_STUDENTS = int(os.environ.get("BENCH_STUDENTS", "2000000"))
N_SCHOOLS = int(os.environ.get("BENCH_SCHOOLS", "3000"))
N_BANKS = 23
FEE = Decimal("200.00")
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 3, 6, 1, 2, 7, 9, 10, 5, 8, 4, 2, 3, 6, 1, 2, 7, 9, 10, 5, 8, 4, 2, 3, 6, 1, 2, 7, 9, 10, 5]



def _name(n: int) -> str:
    # Names hold no Arabic digits (the student rules refuse them).
    return "学生" + "".join("零一二三四五六七八九"[int(d)] for d in str(n))

def ensure_database():
    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to empty database {name!r}: its name must contain 'bench'")
    import psycopg2

    admin = psycopg2.connect(host=url.hostname, port=url.port or 5432, user=url.username, password=url.password, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def check_char(body17: str) -> str:
    total = sum(int(d) * w for d, w in zip(body17, WEIGHTS, strict=False))
    return "10X98765432"[total % 11]


class RowStream(io.RawIOBase):
    """A file-like object COPY reads from, fed by a generator of text lines: memory stays flat."""

    def __init__(self, lines):
        self.lines = lines
        self.buffer = b""

    def readable(self):
        return True

    def readinto(self, target):
        while len(self.buffer) < len(target):
            chunk = "".join(line for _i, line in zip(range(5000), self.lines, strict=False))
            if not chunk:
                break
            self.buffer += chunk.encode()
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        return size


def copy_value(value):
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def copy_rows(cursor, model, rows, fixed: dict, *, with_id=True):
    """COPY ``rows`` (dicts of attname -> value) into the model's table; unknown columns get the field default."""
    fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
    columns = [f.column for f in fields]
    defaults = {f.attname: (f.get_default() if f.has_default() else None) for f in fields}

    def lines():
        for row in rows:
            values = {**defaults, **fixed, **row}
            yield "\t".join(copy_value(values[f.attname]) for f in fields) + "\n"

    cursor.copy_expert(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN", RowStream(lines()))


def load():
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from enrollment import models as m

    call_command("migrate", verbosity=0)
    emptied = (
        *billing_tables(), m.ConfirmationLine, m.RosterConfirmation, m.AuditEvent, m.ChargeCorrection, m.Enrollment, m.Roster,
        m.Student, m.SchoolAccount, m.Job, m.Membership, m.School, m.InsuranceYear, m.Office, m.Bank.allowed_in.through,
        m.Bank, m.City,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(floor.table(t) for t in emptied)} CASCADE")
    now = timezone.now()
    today = timezone.localdate()
    city = m.City.objects.create(code="guangzhou", name="广州市")
    offices = [m.Office.objects.create(code=f"gz-{i:02d}", city=city, name=f"第{i}分局", district=f"第{i}区", address="测试路")
               for i in range(12)]
    banks = []
    for i in range(N_BANKS):
        bank = m.Bank.objects.create(code=f"BK{i:02d}", name=f"银行{i:02d}", file_format="icbc_fixed" if i % 5 == 0 else "default")
        bank.allowed_in.add(city)
        banks.append(bank)
    year = m.InsuranceYear.objects.create(
        city=city, label="2015", coverage_start=datetime.date(2015, 1, 1), coverage_end=datetime.date(2015, 12, 31),
        fee_standard=FEE, window_start=today - datetime.timedelta(days=30), window_end=today + datetime.timedelta(days=30),
        collection_route=m.CollectionRoute.BANK_DEBIT,
    )
    user, _created = get_user_model().objects.get_or_create(username="bench-coordinator")
    per_school = N_STUDENTS // N_SCHOOLS
    sizes = [per_school + (1 if i < N_STUDENTS - per_school * N_SCHOOLS else 0) for i in range(N_SCHOOLS)]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cur = cursor.cursor  # the psycopg2 cursor, for copy_expert
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [m.School._meta.db_table])
        base = cur.fetchone()[0]
        school_ids = list(range(base + 1, base + 1 + N_SCHOOLS))
        copy_rows(cur, m.School, ({"id": sid, "code": f"GZ{sid:06d}", "name": f"第{sid}学校", "office_id": offices[i % 12].pk}
                                  for i, sid in enumerate(school_ids)),
                  {"kind": "primary_secondary", "is_local": True, "is_agent": True, "final_grade": 12, "active": True})
        copy_rows(cur, m.SchoolAccount, ({"school_id": sid, "bank_id": banks[i % N_BANKS].pk, "account_number": f"6222{sid:015d}",
                                          "holder_name": f"第{sid}学校"} for i, sid in enumerate(school_ids)),
                  {"agreement_signed_on": datetime.date(2014, 7, 1), "active": True, "created_at": now}, with_id=False)
        cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [m.School._meta.db_table, school_ids[-1]])
        # Rosters and confirmations: ids chosen here so lines can point at them.
        copy_rows(cur, m.Roster, ({"id": sid, "school_id": sid} for sid in school_ids),
                  {"insurance_year_id": year.pk, "state": "confirmed", "version": 1, "updated_at": now})
        copy_rows(cur, m.RosterConfirmation,
                  ({"id": sid, "roster_id": sid, "paying_count": sizes[i], "total_amount": FEE * sizes[i]} for i, sid in enumerate(school_ids)),
                  {"confirmed_by_id": user.pk, "confirmed_at": now, "roster_version": 1, "fee_standard": FEE,
                   "fee_provisional": False, "exempt_count": 0, "reopened_at": None, "reopened_by_id": None, "reopen_reason": ""})
        for model in (m.Roster, m.RosterConfirmation):
            cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [model._meta.db_table, school_ids[-1]])

        def people():
            n = 0
            for i, sid in enumerate(school_ids):
                for _k in range(sizes[i]):
                    n += 1
                    yield n, sid

        def students():
            first_birth = datetime.date(2005, 1, 1)
            for n, sid in people():
                # Unique and well-formed: region and birth date from n // 1000, sequence from n % 1000.
                k = n // 1000
                birth = first_birth + datetime.timedelta(days=k // 100)
                body = f"{440100 + k % 100}{birth:%Y%m%d}{n % 1000:03d}"
                yield {"id": n, "identity_number": body + check_char(body), "name": _name(n), "school_id": sid,
                       "birth_date": birth, "grade": 1 + n % 9, "class_name": f"{1 + n % 9}班"}

        copy_rows(cur, m.Student, students(), {"sex": "M", "hukou_local": True, "hukou_rural": False, "medical_assistance": "",
                                               "public_funded_care": False, "status": "in_school", "status_changed_on": None,
                                               "has_citizen_card": False, "created_at": now, "updated_at": now})
        copy_rows(cur, m.Enrollment, ({"id": n, "student_id": n, "school_id": sid} for n, sid in people()),
                  {"insurance_year_id": year.pk, "channel": "school", "channel_reason": "", "status": "registered",
                   "status_reason": "", "fee_due": FEE, "exemption_id": None, "exemption_category_id": None,
                   "payment_status": "unpaid", "paid_at": None, "receipt_number": "", "created_at": now, "updated_at": now})
        copy_rows(cur, m.ConfirmationLine, ({"id": n, "confirmation_id": sid, "enrollment_id": n} for n, sid in people()),
                  {"fee": FEE, "exemption_category_id": None})
        for model in (m.Student, m.Enrollment, m.ConfirmationLine):
            cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [model._meta.db_table, N_STUDENTS])
        cur.execute("ANALYZE")
    print(f"loaded {N_STUDENTS:,} confirmed enrollments in {N_SCHOOLS:,} schools, {N_BANKS} banks "
          f"with COPY in {time.perf_counter() - started:.1f} s")
    return year.pk


BASELINE_SQL = """
COPY (
    SELECT s.code, a.account_number, a.holder_name, count(*), sum(l.fee), c.id
      FROM {line} l
      JOIN {confirmation} c ON c.id = l.confirmation_id
      JOIN {roster} r ON r.id = c.roster_id
      JOIN {school} s ON s.id = r.school_id
      JOIN {account} a ON a.school_id = s.id AND a.active
     WHERE r.insurance_year_id = %s AND c.reopened_at IS NULL AND l.fee > 0
     GROUP BY s.code, a.account_number, a.holder_name, c.id, a.bank_id
     ORDER BY a.bank_id, s.code
) TO STDOUT
"""


def billing_tables():
    from billing import models as b

    return (b.BillingFileDownload, b.DebitAttempt, b.Refund, b.RefundExport, b.DebitInstruction, b.DebitBatch, b.Declaration,
            b.ReceiptImport)


def floor_generate(year_id: int, t: dict) -> tuple[float, str]:
    """The rows generation writes, by bare set-based SQL in one transaction, rolled back; returns (seconds, counts)."""
    from billing.models import DebitAttempt, DebitBatch, DebitInstruction
    from enrollment.models import AuditEvent

    class Sink(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            return len(data)

    counts = {}
    raw = floor.connect()
    try:
        with floor.rolled_back(raw) as (cursor, timing):
            cursor.execute(*floor.insert_select(DebitInstruction, {
                "reference": "'DI' || c.id || '-floor'", "kind": "'roster'", "insurance_year_id": "r.insurance_year_id",
                "roster_id": "r.id", "confirmation_id": "c.id", "school_id": "r.school_id", "account_id": "a.id",
                "bank_id": "a.bank_id", "head_count": "count(*)", "amount": "sum(l.fee)", "created_at": "now()",
            }, f"""FROM {t['line']} l JOIN {t['confirmation']} c ON c.id = l.confirmation_id
                    JOIN {t['roster']} r ON r.id = c.roster_id
                    JOIN {t['account']} a ON a.school_id = r.school_id AND a.active AND a.agreement_signed_on IS NOT NULL
                   WHERE r.insurance_year_id = %s AND r.state = 'confirmed' AND c.reopened_at IS NULL AND l.fee > 0
                   GROUP BY c.id, r.id, a.id""", [year_id]))
            counts["instructions"] = cursor.rowcount
            cursor.execute(*floor.insert_select(DebitBatch, {
                "bank_id": "b.id", "insurance_year_id": str(int(year_id)), "reference": "'Bfloor-' || b.code", "file_format": "b.file_format",
                "created_at": "now()",
            }, f"FROM {t['bank']} b WHERE b.id IN (SELECT bank_id FROM {t['instruction']} WHERE insurance_year_id = %s "
               "AND state = 'open')", [year_id]))
            counts["batches"] = cursor.rowcount
            cursor.execute(
                f"UPDATE {t['instruction']} i SET state = 'in_batch', batch_id = b.id, tries = i.tries + 1 "
                f"FROM {t['batch']} b WHERE b.bank_id = i.bank_id AND b.reference LIKE 'Bfloor-%%' "
                "AND i.insurance_year_id = %s AND i.state = 'open'", [year_id],
            )
            cursor.execute(*floor.insert_select(DebitAttempt, {
                "instruction_id": "i.id", "batch_id": "i.batch_id", "amount": "i.amount",
                "line_number": "row_number() OVER (PARTITION BY i.batch_id ORDER BY s.code, i.id)",
            }, f"FROM {t['instruction']} i JOIN {t['school']} s ON s.id = i.school_id WHERE i.batch_id IS NOT NULL"))
            counts["lines"] = cursor.rowcount
            # The files' content: every line with the school and account it debits, in file order.
            cursor.copy_expert(
                f"COPY (SELECT a.batch_id, a.line_number, s.code, acc.account_number, acc.holder_name, a.amount, i.reference "
                f"FROM {t['attempt']} a JOIN {t['instruction']} i ON i.id = a.instruction_id "
                f"JOIN {t['school']} s ON s.id = i.school_id JOIN {t['account']} acc ON acc.id = i.account_id "
                "ORDER BY a.batch_id, a.line_number) TO STDOUT", Sink(),
            )
            cursor.execute(
                f"UPDATE {t['batch']} b SET state = 'ready', line_count = x.n, total_amount = x.total "
                f"FROM (SELECT batch_id, count(*) AS n, sum(amount) AS total FROM {t['attempt']} GROUP BY batch_id) x "
                "WHERE b.id = x.batch_id"
            )
            cursor.execute(
                f"UPDATE {t['roster']} r SET state = 'billed', updated_at = now() FROM {t['instruction']} i "
                "WHERE r.id = i.roster_id AND i.batch_id IS NOT NULL AND r.state = 'confirmed'"
            )
            counts["rosters billed"] = cursor.rowcount
            audit = ", ".join(f'"{c}"' for c in ("at", "actor_label", "source", "action", "model", "object_id", "school_id",
                                                  "roster_id", "changes", "note"))
            cursor.execute(
                f"INSERT INTO {floor.table(AuditEvent)} ({audit}) "
                "SELECT now(), 'floor', 'job', 'roster_billed', 'roster', r.id, r.school_id, r.id, "
                """'{"state": ["confirmed", "billed"]}'::jsonb, '' """
                f"FROM {t['roster']} r WHERE r.state = 'billed' "
                "UNION ALL SELECT now(), 'floor', 'job', 'debit_batch_generated', 'debitbatch', b.id, NULL, NULL, "
                "jsonb_build_object('lines', b.line_count, 'amount', b.total_amount), '' "
                f"FROM {t['batch']} b WHERE b.reference LIKE 'Bfloor-%%'"
            )
            counts["audit rows"] = cursor.rowcount
        return timing["seconds"], ", ".join(f"{n:,} {what}" for what, n in counts.items())
    finally:
        raw.close()


def measure(year_id: int):
    import django

    django.setup()
    from django.db import connection

    from billing.models import DebitAttempt, DebitBatch, DebitInstruction
    from billing.services import batches_generate
    from enrollment.models import InsuranceYear
    from enrollment.services.common import Actor

    class Sink(io.RawIOBase):
        size = 0

        def writable(self):
            return True

        def write(self, data):
            self.size += len(data)
            return len(data)

    from enrollment import models as m

    tables = {name: floor.table(model) for name, model in (
        ("line", m.ConfirmationLine), ("confirmation", m.RosterConfirmation), ("roster", m.Roster), ("school", m.School),
        ("account", m.SchoolAccount), ("bank", m.Bank), ("audit", m.AuditEvent), ("instruction", DebitInstruction),
        ("batch", DebitBatch), ("attempt", DebitAttempt),
    )}
    with connection.cursor() as cursor:
        # Start from the loaded state even if an earlier measurement ran on this database.
        cursor.execute(f"TRUNCATE {', '.join(floor.table(t) for t in (*billing_tables(), m.AuditEvent))}")
        cursor.execute(f"UPDATE {tables['roster']} SET state = 'confirmed' WHERE state <> 'confirmed'")
        cursor.execute(f"UPDATE {floor.table(m.Enrollment)} SET payment_status = 'unpaid' WHERE payment_status <> 'unpaid'")
        for name in tables.values():
            cursor.execute(f"VACUUM ANALYZE {name}")
        sink = Sink()
        started = time.perf_counter()
        cursor.cursor.copy_expert(cursor.mogrify(BASELINE_SQL.format(**tables), [year_id]).decode(), sink)
        baseline = time.perf_counter() - started

    floor_seconds, floor_counts = floor_generate(year_id, tables)
    with connection.cursor() as cursor:
        for name in tables.values():
            cursor.execute(f"VACUUM ANALYZE {name}")

    queries = []

    def counter(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    year = InsuranceYear.objects.get(pk=year_id)
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        summary = batches_generate(insurance_year=year, actor=Actor(user=None, source="job", label="bench"))
        elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    batches = DebitBatch.objects.filter(state=DebitBatch.State.READY)
    lines = sum(b.line_count for b in batches)
    total = sum((b.total_amount for b in batches), Decimal("0"))
    assert len(summary.batches) == N_BANKS and not summary.errors, summary
    assert lines == N_SCHOOLS == DebitInstruction.objects.count() and total == FEE * N_STUDENTS
    print(f"old baseline, COPY of the bank-file lines: {baseline:.2f} s ({sink.size:,} bytes)")
    print(f"batch generation, all {len(summary.batches)} banks:  {elapsed:.2f} s "
          f"({lines:,} instructions, {total:,} yuan)")
    print(f"floor, the same rows by bare SQL:       {floor_seconds:.2f} s ({floor_counts}, rolled back)")
    print(f"size: {N_STUDENTS:,} confirmed enrollments, {N_SCHOOLS:,} schools, {N_BANKS} banks")
    print(f"old ratio generation / old baseline:    {elapsed / baseline:.2f}  (target <= 1.5)")
    print(f"floor ratio generation / floor:         {elapsed / floor_seconds:.2f}")
    print(f"peak RSS of the generating process:     {peak_mb:.0f} MB  (target <= 300)")
    print(f"SQL queries:                            {len(queries)}  ({len(queries) / len(summary.batches):.1f} per batch)")


if __name__ == "__main__":
    # --measure <insurance year id>: time generation again on an already loaded database.
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]))
    else:
        ensure_database()
        year_id = load()
        subprocess.run([sys.executable, __file__, "--measure", str(year_id)], check=True, env=os.environ)
