"""Receiving graduate feeds and the nightly deregistration run (R9).

``feed_receive`` stores a feed once, whatever way it arrived, after checking
every row. ``deregistration_run`` processes the pending feeds with set-based
SQL: each feed in one transaction, so a run that dies leaves every feed either
fully applied or untouched, and the next run finishes the job.
"""

import datetime
import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment.models import (
    AuditEvent,
    ChargeCorrection,
    City,
    Enrollment,
    EnrollmentStatus,
    InsuranceYear,
    Office,
    Roster,
    RosterState,
    School,
    Student,
    StudentStatus,
)
from enrollment.querysets import membership_city_id, membership_of
from enrollment.services import bulk
from enrollment.services.common import Actor
from graduates.models import DeregistrationRun, FeedSource, GraduateFeed, GraduateRecord
from graduates.parsing import (
    FeedError,
    FeedRefused,
    column_label,
    content_hash,
    read_table,
    rows_from_records,
    rows_from_table,
    validate_rows,
)

logger = logging.getLogger(__name__)

# Key space of the session-level advisory lock each run holds while it lives
# (pg_advisory_lock(RUN_LOCK_SPACE, run id)): a run whose lock can be taken
# by someone else is dead, so its claimed feeds may be taken over at once.
RUN_LOCK_SPACE = 720901

# A feed claimed longer ago than this by a run that still looks alive is
# taken over anyway (the run may hang on a lost connection).
RECLAIM_AFTER = datetime.timedelta(hours=6)

EXCEPTION_OUTCOMES = tuple(str(o) for o in GraduateRecord.EXCEPTIONS)
STOPPED_OUTCOMES = (GraduateRecord.Outcome.STOPPED.value, GraduateRecord.Outcome.REFUND.value)
UNMATCHED_OUTCOMES = (GraduateRecord.Outcome.UNKNOWN_IDENTITY.value, GraduateRecord.Outcome.NAME_MISMATCH.value)


@dataclass(frozen=True)
class FeedReceipt:
    feed: GraduateFeed
    created: bool

    @property
    def message(self) -> str:
        if self.created:
            return _("已接收毕业生数据（编号%(id)d，%(count)d条记录）。") % {"id": self.feed.pk, "count": self.feed.record_count}
        return _("该数据此前已接收（编号%(id)d），不再重复处理。") % {"id": self.feed.pk}


# --- Receiving feeds ----------------------------------------------------------


def _checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def feed_receive(
    *,
    source: str,
    via: str,
    content: bytes | None = None,
    file_name: str = "",
    records: list | None = None,
    user=None,
) -> FeedReceipt:
    """Check every row of a feed (a file's bytes, or JSON records), then store it once.

    Raises FeedRefused (a ValidationError carrying row, column and message of
    each problem) and stores nothing when any row is wrong. The same content
    twice returns the first feed with ``created=False``.
    """
    if source not in FeedSource.values:
        raise FeedRefused([FeedError(None, "source", _("数据来源“%(source)s”无效。") % {"source": source})], file_name=file_name)
    if (content is None) == (records is None):
        raise FeedRefused([FeedError(None, "", _("请提供文件或记录列表（二者取其一）。"))], file_name=file_name)
    if content is not None:
        if len(content) > settings.UPLOAD_MAX_BYTES:
            raise FeedRefused([FeedError(None, "", _("文件过大。"))], file_name=file_name)
        checksum = _checksum(content)
    else:
        content_json = json.dumps(records, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
        checksum = _checksum(content_json.encode())

    user_city_id = membership_city_id(membership_of(user))
    existing = GraduateFeed.objects.filter(checksum=checksum).first()
    if existing is not None and (user_city_id is None or existing.city_id == user_city_id):
        return FeedReceipt(existing, created=False)

    # Phase 1: check every row; nothing is written unless all are right.
    if content is not None:
        rows = rows_from_table(read_table(content, file_name), file_name=file_name)
    else:
        rows = rows_from_records(records)
    cleaned = validate_rows(rows, file_name=file_name)
    city_id = _feed_city(cleaned, user_city_id=user_city_id, file_name=file_name)
    # The same graduates in other bytes (a BOM, CRLF, JSON instead of CSV) are the same feed.
    checksum = content_hash(cleaned)
    existing = GraduateFeed.objects.filter(checksum=checksum).first()
    if existing is not None:
        return FeedReceipt(existing, created=False)

    # Phase 2: store the feed and its records in one short transaction.
    try:
        with transaction.atomic():
            feed = GraduateFeed(
                source=source,
                received_via=via,
                received_by=user if getattr(user, "is_authenticated", False) else None,
                city_id=city_id,
                file_name=file_name[:255],
                checksum=checksum,
                record_count=len(cleaned),
            )
            if content is not None:
                feed.file.save(Path(file_name).name or "feed", ContentFile(content), save=False)
            feed.save()
            GraduateRecord.objects.bulk_create(
                (GraduateRecord(feed=feed, **row) for row in cleaned), batch_size=5000
            )
    except IntegrityError:
        # The same file arrived twice at the same moment: the other arrival won the unique checksum.
        existing = GraduateFeed.objects.filter(checksum=checksum).first()
        if existing is None:
            raise
        return FeedReceipt(existing, created=False)
    logger.info("graduate feed %s received via %s: %s records", feed.pk, via, len(cleaned))
    return FeedReceipt(feed, created=True)


def _feed_city(cleaned: list[dict], *, user_city_id: int | None, file_name: str) -> int | None:
    """The city a feed belongs to: the sender's, else the one city its schools lie in (None if several or none).

    A sender of one city may report only its own city's schools: a row naming a
    school of another city refuses the feed, row and column named.
    """
    codes = {row["school_code"] for row in cleaned}
    city_of_code = dict(School.objects.filter(code__in=codes).values_list("code", "office__city_id"))
    if user_city_id is not None:
        errors = [
            FeedError(
                row["row_number"], column_label("school_code"),
                _("学校代码“%(code)s”是其他城市的学校，只能报送本市学校的毕业生。") % {"code": row["school_code"]},
            )
            for row in cleaned
            if city_of_code.get(row["school_code"], user_city_id) != user_city_id
        ]
        if errors:
            raise FeedRefused(errors, file_name=file_name)
        return user_city_id
    cities = set(city_of_code.values())
    return cities.pop() if len(cities) == 1 else None


def _inbox_source(path: Path) -> str | None:
    """The source is the first part of the file name (``school_roll_....csv``) or its folder."""
    for value in FeedSource.values:
        if path.name.lower().startswith(value) or path.parent.name == value:
            return value
    return None


def inbox_collect() -> list[tuple[str, str]]:
    """Receive every file in the inbox; move it to ``done/`` (or ``refused/`` with a report beside it)."""
    inbox = Path(settings.GRADUATE_FEED_INBOX)
    if not inbox.is_dir():
        return []
    outcomes = []
    candidates = sorted(p for p in inbox.iterdir() if p.is_file() and p.suffix.lower() in {".csv", ".xlsx", ".txt"})
    for path in candidates:
        source = _inbox_source(path)
        try:
            if source is None:
                raise FeedRefused(
                    [FeedError(None, "", _("无法从文件名判断数据来源，文件名应以school_roll或vocational开头。"))], file_name=path.name
                )
            receipt = feed_receive(source=source, via=GraduateFeed.Via.INBOX, content=path.read_bytes(), file_name=path.name)
        except FeedRefused as refused:
            target = inbox / "refused"
            target.mkdir(exist_ok=True)
            shutil.move(str(path), str(target / path.name))
            (target / f"{path.name}.errors.txt").write_text(
                "\n".join(str(e) for e in refused.errors) + "\n", encoding="utf-8"
            )
            outcomes.append((path.name, "refused"))
            continue
        target = inbox / "done"
        target.mkdir(exist_ok=True)
        shutil.move(str(path), str(target / path.name))
        outcomes.append((path.name, "received" if receipt.created else "already_received"))
    return outcomes


# --- The deregistration run ---------------------------------------------------

# Names are compared after NFKC (full-width letters and spaces become ASCII),
# with the several middle dots of minority names made one, and no spaces.
NAME_SQL = "regexp_replace(translate(normalize({col}, NFKC), '•・‧∙', '····'), '\\s', '', 'g')"

# The student of record ``r``, looked up by the unique index on the identity number, one probe per
# record (OFFSET 0 keeps the planner from flattening it into a hash join over every student: with
# random_page_cost at its default it preferred reading the 200,000 students of the benchmark for a
# 10,000-record feed, twice per feed). The decision looks the enrollment up the same way: once the
# students were probed, the planner hashed every enrollment instead (0.09 s against 0.05 s a feed).
STUDENT_BY_NUMBER = (
    f"(SELECT {{columns}} FROM {Student._meta.db_table} s WHERE s.identity_number = r.identity_number OFFSET 0)"
)


class _TimedCursor:
    """Logs each statement's duration at DEBUG level: where a slow run spends its time."""

    def __init__(self, cursor, feed_id):
        self.cursor, self.feed_id = cursor, feed_id

    def execute(self, sql, params=None):
        started = time.monotonic()
        self.cursor.execute(sql, params)
        if logger.isEnabledFor(logging.DEBUG):
            first = " ".join(sql.split())[:70]
            logger.debug("feed %s: %.3fs rows=%s %s", self.feed_id, time.monotonic() - started, self.cursor.rowcount, first)

    def __getattr__(self, name):
        return getattr(self.cursor, name)


def _mark_dead_runs_failed(cursor, *, own_run_id: int) -> None:
    """A run still marked running whose advisory lock nobody holds has died: mark it failed."""
    cursor.execute("SELECT id FROM graduates_deregistrationrun WHERE state = 'running' AND id <> %s", [own_run_id])
    for (run_id,) in cursor.fetchall():
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK_SPACE, run_id])
        if cursor.fetchone()[0]:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_SPACE, run_id])
            cursor.execute(
                "UPDATE graduates_deregistrationrun SET state = 'failed', finished_at = now(), error = %s "
                "WHERE id = %s AND state = 'running'",
                [_("处理进程已中断，未完成的数据已由后续批次接手。"), run_id],
            )


def _claim_next_feed(*, run_id: int, city_id: int | None, every_city: bool) -> int | None:
    """Take one pending feed (or one left behind by a dead run) for this run, committed at once.

    The conditional UPDATE on a row picked with FOR UPDATE SKIP LOCKED is what
    keeps two runs started together from processing the same feed: the second
    either skips the row the first holds or, once the first committed, no
    longer finds it pending. A feed whose run is processing it stays row-locked
    until that run commits, so it cannot be taken over while being worked on.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE graduates_graduatefeed f
               SET state = 'processing', claimed_by_run_id = %(run)s, claimed_at = now()
             WHERE f.id = (
                   SELECT f2.id
                     FROM graduates_graduatefeed f2
                     LEFT JOIN graduates_deregistrationrun r2 ON r2.id = f2.claimed_by_run_id
                    WHERE (f2.state = 'pending'
                           OR (f2.state = 'processing'
                               AND (r2.id IS NULL OR r2.state <> 'running' OR f2.claimed_at < now() - %(timeout)s)))
                      AND (%(every)s OR f2.city_id IS NOT DISTINCT FROM %(city)s)
                    ORDER BY f2.received_at, f2.id
                    LIMIT 1
                      FOR UPDATE OF f2 SKIP LOCKED)
            RETURNING f.id
            """,
            {"run": run_id, "timeout": RECLAIM_AFTER, "every": every_city, "city": city_id},
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _process_feed(*, run_id: int, feed_id: int, today: datetime.date) -> dict | None:
    """Apply one feed in one transaction; return its counts, or None if another run took it over."""
    label = f"毕业生停保 run {run_id} / feed {feed_id}"
    reason = _("毕业生停保：学籍系统报毕业（毕业日期 %(date)s）") % {"date": "{date}"}
    reason_prefix, reason_suffix = reason.split("{date}")
    name_record = NAME_SQL.format(col="r.name")
    name_student = NAME_SQL.format(col="s.name")
    with transaction.atomic(), connection.cursor() as raw_cursor:
        cursor = _TimedCursor(raw_cursor, feed_id)
        # Hold the feed row until commit: no other run can take it over while this one works.
        cursor.execute(
            "SELECT id FROM graduates_graduatefeed WHERE id = %s AND state = 'processing' AND claimed_by_run_id = %s FOR UPDATE",
            [feed_id, run_id],
        )
        if cursor.fetchone() is None:
            return None
        # The statements below look rows up by index, a few ms each; their row estimates put them over
        # jit_above_cost, and compiling them took longer (30-90 ms a statement) than running them.
        cursor.execute("SET LOCAL jit = off")

        # The next insurance year per city and graduation date: the year whose coverage starts after it.
        cursor.execute("DROP TABLE IF EXISTS grad_year; DROP TABLE IF EXISTS grad_out")
        cursor.execute(
            f"""
            CREATE TEMP TABLE grad_year ON COMMIT DROP AS
            SELECT c.id AS city_id, d.graduation_date,
                   (SELECT y.id FROM {InsuranceYear._meta.db_table} y
                     WHERE y.city_id = c.id AND y.coverage_start > d.graduation_date
                     ORDER BY y.coverage_start, y.id LIMIT 1) AS year_id
              FROM {City._meta.db_table} c
             CROSS JOIN (SELECT DISTINCT graduation_date FROM graduates_graduaterecord
                          WHERE feed_id = %s AND outcome = 'pending') d
            """,
            [feed_id],
        )
        # Lock first every roster of the years a record can touch (the core's roster lock, in id order):
        # school confirmations, roster edits and a coordinator registering this student right now either
        # commit before the decisions below (which then see them) or wait until this feed has committed.
        # All of the city's rosters of those years rather than each record's own: finding every
        # student's rosters first cost as much as the decisions themselves.
        bulk.rosters_lock_of_years(years=bulk.RowSet(
            "SELECT DISTINCT year_id AS insurance_year_id FROM grad_year WHERE year_id IS NOT NULL"
        ))
        # Who each record is and what happens to it, decided from the rows as they are after the
        # locks (this statement's fresh snapshot): the student, their school, their enrollment in
        # the next year and its roster.
        cursor.execute(
            """
            CREATE TEMP TABLE grad_out (
                record_id bigint, outcome varchar(20), student_id bigint, student_status varchar(20),
                school_id bigint, enrollment_id bigint, roster_id bigint, fee_due numeric(14, 2),
                graduation_date date
            ) ON COMMIT DROP
            """
        )
        cursor.execute(
            f"""
            WITH decided AS (
                SELECT r.id AS record_id, s.id AS student_id, s.status AS student_status, r.graduation_date,
                       gy.year_id, e.id AS enrollment_id, ro.id AS roster_id, e.fee_due,
                       COALESCE(s.school_id, rs.id) AS school_id,
                       CASE
                         WHEN s.id IS NULL THEN 'unknown_identity'
                         WHEN NOT (s.name = r.name OR {name_student} = {name_record}) THEN 'name_mismatch'
                         WHEN s.status = %(left)s THEN 'already_left'
                         WHEN rs.id IS DISTINCT FROM s.school_id THEN 'other_school'
                         WHEN e.id IS NULL THEN CASE WHEN s.status = %(graduated)s THEN 'already_stopped' ELSE 'not_enrolled' END
                         WHEN e.status <> %(registered)s THEN 'already_stopped'
                         WHEN ro.state IN %(charged)s THEN 'refund'
                         WHEN ro.state = %(confirmed)s THEN 'confirmed_roster'
                         WHEN NOT (y.window_start <= %(today)s AND %(today)s <= y.window_end) THEN 'window_closed'
                         ELSE 'stopped'
                       END AS outcome
                  FROM graduates_graduaterecord r
                  LEFT JOIN LATERAL {STUDENT_BY_NUMBER.format(columns="s.id, s.name, s.status, s.school_id")} s ON true
                  LEFT JOIN {School._meta.db_table} rs ON rs.code = r.school_code
                  LEFT JOIN {School._meta.db_table} ss ON ss.id = s.school_id
                  LEFT JOIN {Office._meta.db_table} so ON so.id = ss.office_id
                  LEFT JOIN grad_year gy ON gy.city_id = so.city_id AND gy.graduation_date = r.graduation_date
                  LEFT JOIN LATERAL (
                        SELECT e.id, e.status, e.fee_due, e.school_id, e.insurance_year_id
                          FROM {Enrollment._meta.db_table} e
                         WHERE e.student_id = s.id AND e.insurance_year_id = gy.year_id OFFSET 0) e ON true
                  LEFT JOIN {Roster._meta.db_table} ro
                         ON ro.school_id = e.school_id AND ro.insurance_year_id = e.insurance_year_id
                  LEFT JOIN {InsuranceYear._meta.db_table} y ON y.id = gy.year_id
                 WHERE r.feed_id = %(feed)s AND r.outcome = 'pending'
            ), updated AS (
                UPDATE graduates_graduaterecord r
                   SET outcome = d.outcome, student_id = d.student_id, school_id = d.school_id,
                       insurance_year_id = CASE WHEN d.student_id IS NULL THEN NULL ELSE d.year_id END,
                       enrollment_id = d.enrollment_id, run_id = %(run)s
                  FROM decided d
                 WHERE r.id = d.record_id AND r.feed_id = %(feed)s  -- the feed's rows only, not every record ever received
             RETURNING d.record_id, d.outcome, d.student_id, d.student_status, d.school_id,
                       d.enrollment_id, d.roster_id, d.fee_due, d.graduation_date
            )
            INSERT INTO grad_out SELECT * FROM updated
            """,
            {
                "today": today, "run": run_id, "feed": feed_id,
                "left": StudentStatus.LEFT.value, "graduated": StudentStatus.GRADUATED.value,
                "registered": EnrollmentStatus.REGISTERED.value, "confirmed": RosterState.CONFIRMED.value,
                "charged": (RosterState.BILLED.value, RosterState.SETTLED.value),
            },
        )
        now = timezone.now()
        actor = Actor.job(label)
        # The student is graduated from the graduation date on: the roster of the next year leaves them
        # out. Those whose enrollment is deregistered below are recorded there.
        bulk.students_graduate(
            rows=bulk.RowSet(
                "SELECT student_id, graduation_date, outcome NOT IN ('stopped', 'refund') AS audited FROM grad_out"
                " WHERE outcome IN ('stopped', 'refund', 'window_closed', 'not_enrolled', 'already_stopped',"
                " 'confirmed_roster')"
            ),
            actor=actor, note=_("学籍系统报毕业，标记为已毕业"), at=now,
        )
        # Deregister the next year's enrollment where it may change (open roster in the window) or was
        # already charged (refund follows); a confirmed roster waits for bureau staff.
        bulk.enrollments_deregister(
            rows=bulk.RowSet(
                """
                SELECT enrollment_id, roster_id,
                       %s || to_char(graduation_date, 'YYYY-MM-DD') || %s AS status_reason,
                       CASE WHEN outcome = 'refund' THEN %s ELSE %s END AS note
                  FROM grad_out
                 WHERE outcome IN ('stopped', 'refund')
                """,
                (
                    reason_prefix, reason_suffix,
                    _("毕业生停保减员，名单已扣费，已提出退费"), _("毕业生停保减员，已从待确认名单中移除"),
                ),
            ),
            actor=actor, action=AuditEvent.Action.GRADUATE_DEREGISTERED, at=now,
        )
        # The school's open roster changed: its version moves so a confirmation of the old list is refused.
        bulk.rosters_bump(rows=bulk.RowSet("SELECT roster_id FROM grad_out WHERE outcome = 'stopped'"), at=now)
        # Already charged: a refund for billing; the core keeps it single per enrollment.
        bulk.charge_corrections_raise(
            rows=bulk.RowSet("SELECT enrollment_id, -fee_due AS amount FROM grad_out WHERE outcome = 'refund' AND fee_due > 0"),
            reason=ChargeCorrection.Reason.GRADUATE, detail=label, at=now,
        )
        cursor.execute(
            f"""
            SELECT o.outcome, sc.code, count(*)
              FROM grad_out o LEFT JOIN {School._meta.db_table} sc ON sc.id = o.school_id
             GROUP BY o.outcome, sc.code
            """
        )
        counts = {"records": 0, "matched": 0, "stopped": 0, "exceptions": 0, "per_school": {}}
        for outcome, school_code, n in cursor.fetchall():
            counts["records"] += n
            if outcome not in UNMATCHED_OUTCOMES:
                counts["matched"] += n
            if outcome in STOPPED_OUTCOMES:
                counts["stopped"] += n
            if outcome in EXCEPTION_OUTCOMES:
                counts["exceptions"] += n
                key = school_code or ""
                counts["per_school"][key] = counts["per_school"].get(key, 0) + n
        # The run's counts move with the feed's effects, in the same transaction.
        cursor.execute(
            """
            UPDATE graduates_deregistrationrun
               SET feeds_processed = feeds_processed + 1, record_count = record_count + %s, matched = matched + %s,
                   stopped = stopped + %s, exceptions = exceptions + %s,
                   exceptions_per_school = (
                       SELECT COALESCE(jsonb_object_agg(k, v), '{}'::jsonb) FROM (
                           SELECT k, sum(v::int) AS v FROM (
                               SELECT key AS k, value::text AS v FROM jsonb_each(exceptions_per_school)
                               UNION ALL
                               SELECT key, value::text FROM jsonb_each(%s::jsonb)
                           ) parts GROUP BY k) merged)
             WHERE id = %s
            """,
            [
                counts["records"], counts["matched"], counts["stopped"], counts["exceptions"],
                json.dumps(counts["per_school"]), run_id,
            ],
        )
        cursor.execute(
            "UPDATE graduates_graduatefeed SET state = 'done', processed_at = %s "
            "WHERE id = %s AND state = 'processing' AND claimed_by_run_id = %s",
            [now, feed_id, run_id],
        )
        if cursor.rowcount != 1:
            raise RuntimeError(f"feed {feed_id} was taken over by another run")
    return counts


EVERY_CITY = object()


def deregistration_run(
    *, triggered_by: str, city: City | None | object = EVERY_CITY, collect_inbox: bool = True, today: datetime.date | None = None
) -> DeregistrationRun:
    """Receive the inbox, then process the pending feeds of ``city``; one transaction per feed.

    ``city`` None processes the feeds whose city is unknown; by default every
    pending feed of every city (a run without a city, shown to superusers only).

    Not atomic as a whole on purpose: each feed commits with its effects, its
    outcomes and the run's counts together, so a run that dies half-way has
    applied whole feeds only and the next run picks up the rest.
    """
    today = today or timezone.localdate()
    started = time.monotonic()
    if collect_inbox:
        inbox_collect()
    with transaction.atomic(), connection.cursor() as cursor:
        every_city = city is EVERY_CITY
        city_id = None if every_city or city is None else city.pk
        run = DeregistrationRun.objects.create(triggered_by=triggered_by[:100], city_id=city_id)
        # Held for the run's life (session level): others can tell a live run from a dead one.
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK_SPACE, run.pk])
    try:
        with connection.cursor() as cursor:
            _mark_dead_runs_failed(cursor, own_run_id=run.pk)
        while True:
            feed_id = _claim_next_feed(run_id=run.pk, city_id=city_id, every_city=every_city)
            if feed_id is None:
                break
            feed_started = time.monotonic()
            _process_feed(run_id=run.pk, feed_id=feed_id, today=today)
            logger.debug("feed %s committed in %.3fs", feed_id, time.monotonic() - feed_started)
    except Exception as exc:
        DeregistrationRun.objects.filter(pk=run.pk).update(
            state=DeregistrationRun.State.FAILED,
            finished_at=timezone.now(),
            duration_seconds=time.monotonic() - started,
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        logger.exception("deregistration run %s failed", run.pk)
        raise
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_SPACE, run.pk])
    DeregistrationRun.objects.filter(pk=run.pk).update(
        state=DeregistrationRun.State.DONE, finished_at=timezone.now(), duration_seconds=time.monotonic() - started
    )
    run.refresh_from_db()
    logger.info(
        "deregistration run %s: %s feeds, %s matched, %s stopped, %s exceptions in %.1fs",
        run.pk, run.feeds_processed, run.matched, run.stopped, run.exceptions, run.duration_seconds,
    )
    return run


def deregistration_runs_per_city(*, triggered_by: str, city: City | None | object = EVERY_CITY) -> list[DeregistrationRun]:
    """One run per city with pending feeds (each city's staff follow their own), then one for feeds of no known city.

    Given a city, only that city's feeds are processed (staff start runs for their own city only).
    """
    inbox_collect()
    if city is not EVERY_CITY:
        return [deregistration_run(triggered_by=triggered_by, city=city, collect_inbox=False)]
    pending = set(
        GraduateFeed.objects.exclude(state=GraduateFeed.State.DONE).values_list("city_id", flat=True).distinct()
    )
    runs = [
        deregistration_run(triggered_by=triggered_by, city=each, collect_inbox=False)
        for each in City.objects.filter(pk__in=pending - {None}).order_by("pk")
    ]
    if None in pending:
        runs.append(deregistration_run(triggered_by=triggered_by, city=None, collect_inbox=False))
    return runs


@transaction.atomic
def run_mark_failed(*, run: DeregistrationRun, reason: str) -> int:
    """Bureau staff declare a stuck run dead: its unfinished feeds go to the next run. Returns feeds released."""
    DeregistrationRun.objects.filter(pk=run.pk, state=DeregistrationRun.State.RUNNING).update(
        state=DeregistrationRun.State.FAILED, finished_at=timezone.now(), error=reason[:2000]
    )
    return GraduateFeed.objects.filter(claimed_by_run=run, state=GraduateFeed.State.PROCESSING).update(
        state=GraduateFeed.State.PENDING
    )


@transaction.atomic
def exceptions_resolve(*, records, user) -> int:
    """Someone (the school or bureau staff) has dealt with these exceptions by hand. Returns how many."""
    return (
        GraduateRecord.objects.filter(pk__in=[r.pk for r in records], outcome__in=GraduateRecord.EXCEPTIONS, resolved_at__isnull=True)
        .update(resolved_at=timezone.now(), resolved_by=user)
    )
