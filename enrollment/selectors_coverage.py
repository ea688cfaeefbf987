"""A student's coverage in an insurance year (R13): covered from when to when, and if not, why not.

Every place that shows coverage (the coordinator's student page and lookup, the
bureau's lookup, the API) reads ``student_coverage`` or its bulk form
``students_coverage``; none of them decides a state of its own.

The states are the rows of ``COVERAGE_STATES``, read top to bottom: the first
row whose ``when`` holds for the student's facts is the answer. A new status
(insured elsewhere, left, deceased, transferred) is one more row, placed where
it takes precedence, e.g.::

    CoverageRule("deceased", _lazy("已死亡"), NOT_COVERED, lambda f: f.student_status == "deceased",
                 lambda f: _("%(on)s死亡") % {"on": f.student.status_changed_on}),

``kind`` groups the states for display (covered, awaiting, elsewhere, not
covered); ``covered`` follows from it. A row may give ``period`` to cover less
than the whole year (e.g. until a date of death).
"""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from enrollment.models import (
    Channel,
    Enrollment,
    EnrollmentStatus,
    InsuranceYear,
    PaymentStatus,
    Roster,
    RosterState,
    Student,
    StudentStatus,
)

# Kinds of state, as the pages group and colour them.
COVERED = "covered"
AWAITING = "awaiting"
ELSEWHERE = "elsewhere"
NOT_COVERED = "not_covered"

CONFIRMED_ROSTER_STATES = (RosterState.CONFIRMED, RosterState.BILLED, RosterState.SETTLED)


@dataclass(frozen=True)
class CoverageFacts:
    """What the rules look at: the student (None when the number is unknown), this year's enrollment, the roster."""

    insurance_year: InsuranceYear
    student: Student | None
    enrollment: Enrollment | None
    roster_confirmed: bool

    @property
    def student_status(self) -> str:
        return self.student.status if self.student is not None else ""

    @property
    def registered(self) -> bool:
        return self.enrollment is not None and self.enrollment.status == EnrollmentStatus.REGISTERED

    @property
    def on_school_channel(self) -> bool:
        return self.enrollment is not None and self.enrollment.channel == Channel.SCHOOL

    @property
    def payment(self) -> str:
        return self.enrollment.payment_status if self.enrollment is not None else ""

    @property
    def paid_inside_window(self) -> bool:
        enrollment = self.enrollment
        if enrollment is None or enrollment.paid_at is None:
            return False
        return timezone.localdate(enrollment.paid_at) <= self.insurance_year.window_end


@dataclass(frozen=True)
class CoverageRule:
    code: str
    label: Promise
    kind: str
    when: Callable[[CoverageFacts], bool]
    reason: Callable[[CoverageFacts], str] = lambda facts: ""
    period: Callable[[CoverageFacts], tuple[datetime.date, datetime.date]] | None = None

    @property
    def covered(self) -> bool:
        return self.kind == COVERED


def _channel_reason(facts: CoverageFacts) -> str:
    enrollment = facts.enrollment
    text = _("经%(channel)s参保，由其办理") % {"channel": enrollment.get_channel_display()}
    if enrollment.channel_reason:
        text += _("（%(reason)s）") % {"reason": enrollment.channel_reason}
    return text


def _window(facts: CoverageFacts) -> str:
    year = facts.insurance_year
    return _("缴费不在申报缴费期内（%(start)s至%(end)s）") % {
        "start": year.window_start.isoformat(), "end": year.window_end.isoformat(),
    }


def _stopped(facts: CoverageFacts) -> str:
    enrollment = facts.enrollment
    return _("已剔除或停保：%(reason)s") % {"reason": enrollment.status_reason or enrollment.get_status_display()}


def _exempt(facts: CoverageFacts) -> str:
    category = facts.enrollment.exemption_category
    return _("免缴：%(category)s") % {"category": category.name} if category else _("财政全额补助")


def _public_funded(facts: CoverageFacts) -> bool:
    if facts.enrollment is not None:
        return facts.enrollment.channel == Channel.PUBLIC_FUNDED
    return facts.student is not None and facts.student.public_funded_care


# The table of states: first match wins. Codes are the API's ``reason_code`` (blank when covered: see below).
COVERAGE_STATES: tuple[CoverageRule, ...] = (
    CoverageRule("public_funded", _lazy("公费医疗"), ELSEWHERE, _public_funded,
                 lambda f: _("享受公费医疗，不参加居民医保")),
    CoverageRule("deceased", _lazy("已死亡"), NOT_COVERED, lambda f: f.student_status == StudentStatus.DECEASED,
                 lambda f: _("%(on)s死亡") % {"on": f.student.status_changed_on}),
    CoverageRule("not_enrolled", _lazy("未参保登记"), NOT_COVERED, lambda f: f.enrollment is None,
                 lambda f: _("未参保登记")),
    CoverageRule("insured_elsewhere", _lazy("已在他处参保"), ELSEWHERE,
                 lambda f: f.enrollment.channel == Channel.INSURED_ELSEWHERE,
                 lambda f: _("已在他处参保：%(proof)s") % {"proof": f.enrollment.channel_reason}),
    CoverageRule("other_channel", _lazy("其他途径参保"), ELSEWHERE, lambda f: not f.on_school_channel, _channel_reason),
    CoverageRule("stopped", _lazy("已剔除或停保"), NOT_COVERED, lambda f: not f.registered, _stopped),
    CoverageRule("paid", _lazy("已缴费"), COVERED, lambda f: f.payment == PaymentStatus.PAID and f.paid_inside_window),
    CoverageRule("paid_late", _lazy("逾期缴费"), NOT_COVERED, lambda f: f.payment == PaymentStatus.PAID, _window),
    CoverageRule("exempt", _lazy("免缴"), COVERED, lambda f: f.payment == PaymentStatus.FUNDED and f.roster_confirmed,
                 _exempt),
    CoverageRule("awaiting_confirmation", _lazy("待学校确认名单"), AWAITING, lambda f: f.payment == PaymentStatus.FUNDED,
                 lambda f: _("免缴人员，所在学校名单尚未确认")),
    CoverageRule("billed", _lazy("待到账"), AWAITING, lambda f: f.payment == PaymentStatus.BILLED,
                 lambda f: _("已发起扣费或申报，尚未到账")),
    CoverageRule("refunded", _lazy("已退费"), NOT_COVERED, lambda f: f.payment == PaymentStatus.REFUNDED,
                 lambda f: _("已退费")),
    CoverageRule("unpaid", _lazy("待缴费"), AWAITING, lambda f: True, lambda f: _("未缴费")),
)
STATES_BY_CODE = {rule.code: rule for rule in COVERAGE_STATES}


@dataclass
class StudentCoverage:
    insurance_year: InsuranceYear
    student: Student | None
    state: str
    label: str
    kind: str
    covered: bool
    coverage_from: datetime.date  # the year's coverage period, covered or not
    coverage_to: datetime.date
    covered_from: datetime.date | None  # the period this student is covered for; None when not covered
    covered_to: datetime.date | None
    reason: str
    channel: str
    channel_label: str

    @property
    def reason_code(self) -> str:
        """The API's code: blank when covered, else the state."""
        return "" if self.covered else self.state


def _answer(facts: CoverageFacts) -> StudentCoverage:
    rule = next(rule for rule in COVERAGE_STATES if rule.when(facts))
    year = facts.insurance_year
    start, end = rule.period(facts) if rule.period else (year.coverage_start, year.coverage_end)
    enrollment = facts.enrollment
    return StudentCoverage(
        insurance_year=year,
        student=facts.student,
        state=rule.code,
        label=str(rule.label),
        kind=rule.kind,
        covered=rule.covered,
        coverage_from=year.coverage_start,
        coverage_to=year.coverage_end,
        covered_from=start if rule.covered else None,
        covered_to=end if rule.covered else None,
        reason=str(rule.reason(facts)),
        channel=enrollment.channel if enrollment is not None else "",
        channel_label=enrollment.get_channel_display() if enrollment is not None else "",
    )


def students_coverage(*, students: Iterable[Student], insurance_year: InsuranceYear) -> dict[int, StudentCoverage]:
    """Coverage of each of ``students`` (already scoped by the caller) in the year: three queries for any number."""
    students = list(students)
    ids = [s.pk for s in students]
    enrollments = {
        e.student_id: e
        for e in Enrollment.objects.filter(insurance_year=insurance_year, student_id__in=ids).select_related("exemption_category")
    }
    school_ids = {e.school_id for e in enrollments.values()}
    confirmed = set(
        Roster.objects.filter(insurance_year=insurance_year, school_id__in=school_ids, state__in=CONFIRMED_ROSTER_STATES)
        .values_list("school_id", flat=True)
    )
    out = {}
    for student in students:
        enrollment = enrollments.get(student.pk)
        out[student.pk] = _answer(CoverageFacts(
            insurance_year=insurance_year, student=student, enrollment=enrollment,
            roster_confirmed=enrollment is not None and enrollment.school_id in confirmed,
        ))
    return out


def student_coverage(*, student: Student | None, insurance_year: InsuranceYear) -> StudentCoverage:
    """One student's coverage in the year; ``student=None`` answers for a number nobody registered."""
    if student is None:
        return _answer(CoverageFacts(insurance_year=insurance_year, student=None, enrollment=None, roster_confirmed=False))
    return students_coverage(students=[student], insurance_year=insurance_year)[student.pk]


def coverage_search(*, user, identity_number: str, insurance_year: InsuranceYear | None = None) -> StudentCoverage | None:
    """Coverage of the student with exactly this number among the students ``user`` may see, else None.

    A number outside the user's schools and a number nobody registered both answer None, so the page shows
    the same "not found" for both. The year is ``insurance_year`` when it is the student's city's, else that
    city's current year.
    """
    from enrollment.services.common import current_insurance_year

    student = (
        Student.objects.visible_to(user).select_related("school__office").filter(identity_number=identity_number).first()
    )
    if student is None:
        return None
    city_id = student.school.office.city_id
    year = insurance_year if insurance_year is not None and insurance_year.city_id == city_id else None
    year = year or current_insurance_year(city_id=city_id)
    if year is None:
        return None
    return student_coverage(student=student, insurance_year=year)
