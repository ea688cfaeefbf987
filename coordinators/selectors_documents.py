"""Reads behind the printed documents (R17): who gets a personal rights record, per class, and hand-out state."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from coordinators.documents import Contact, RightsRecord
from coordinators.models import Handout
from enrollment.identity import mask
from enrollment.models import (
    Enrollment,
    EnrollmentStatus,
    Hotline,
    InsuranceYear,
    PaymentStatus,
    School,
)

COVERED_PAYMENT_STATES = (PaymentStatus.PAID, PaymentStatus.FUNDED)

RECORD_CHUNK = 500


def class_label(grade: int, class_name: str) -> str:
    if class_name:
        return class_name if str(grade) in class_name else _("%(grade)s年级%(cls)s") % {"grade": grade, "cls": class_name}
    return _("%(grade)s年级") % {"grade": grade}


def record_enrollments(*, school: School, insurance_year: InsuranceYear, class_name: str | None = None,
                       student_id: int | None = None):
    """The enrollments that get a rights record: registered on the school for the year (any channel)."""
    qs = Enrollment.objects.filter(
        school=school, insurance_year=insurance_year, status=EnrollmentStatus.REGISTERED
    )
    if class_name is not None:
        qs = qs.filter(student__class_name=class_name)
    if student_id is not None:
        qs = qs.filter(student_id=student_id)
    return qs.order_by("student__grade", "student__class_name", "student__name", "pk")


def rights_records(*, school: School, insurance_year: InsuranceYear, class_name: str | None = None,
                   student_id: int | None = None) -> Iterator[RightsRecord]:
    """Page data for each selected student, streamed in chunks so a large school is not held in memory."""
    office = school.office
    city = office.city
    hotlines = tuple(
        Contact(topic=h.topic, phone=h.phone, address=h.address) for h in Hotline.objects.filter(city=city)
    )
    qs = record_enrollments(
        school=school, insurance_year=insurance_year, class_name=class_name, student_id=student_id
    ).select_related("student", "exemption_category")
    for enrollment in qs.iterator(chunk_size=RECORD_CHUNK):
        student = enrollment.student
        yield RightsRecord(
            student_name=student.name,
            masked_identity_number=mask(student.identity_number),
            school_name=school.name,
            class_label=class_label(student.grade, student.class_name),
            city_name=city.name,
            insurance_year_label=insurance_year.label,
            channel=enrollment.get_channel_display(),
            fee_due=enrollment.fee_due,
            exemption_category=enrollment.exemption_category.name if enrollment.exemption_category else "",
            payment_status=enrollment.get_payment_status_display(),
            paid_on=timezone.localdate(enrollment.paid_at) if enrollment.paid_at else None,
            receipt_number=enrollment.receipt_number,
            coverage_start=insurance_year.coverage_start,
            coverage_end=insurance_year.coverage_end,
            coverage_description=insurance_year.coverage_description,
            covered=enrollment.payment_status in COVERED_PAYMENT_STATES,
            office_name=office.name,
            office_address=office.address,
            office_liaison=office.liaison,
            office_phone=office.phone,
            hotlines=hotlines,
        )


@dataclass(frozen=True)
class ClassRow:
    class_name: str
    grade: int
    students: int
    covered: int
    handed_out_on: object


def classes_of(*, school: School, insurance_year: InsuranceYear) -> list[ClassRow]:
    """Each class of the school's registered students with covered counts and the hand-out date if recorded."""
    handed = dict(
        Handout.objects.filter(school=school, insurance_year=insurance_year).values_list("class_name", "handed_out_on")
    )
    rows = (
        record_enrollments(school=school, insurance_year=insurance_year)
        .order_by()
        .values("student__class_name")
        .annotate(
            students=Count("pk"),
            covered=Count("pk", filter=Q(payment_status__in=COVERED_PAYMENT_STATES)),
            grade=Min("student__grade"),
        )
    )
    result = [
        ClassRow(
            class_name=row["student__class_name"],
            grade=row["grade"],
            students=row["students"],
            covered=row["covered"],
            handed_out_on=handed.get(row["student__class_name"]),
        )
        for row in rows
    ]
    return sorted(result, key=lambda r: (r.grade, r.class_name))


@dataclass(frozen=True)
class PendingSchool:
    school: School
    classes: int
    handed_out: int

    @property
    def pending(self) -> int:
        return self.classes - self.handed_out


def schools_without_handouts(*, user, insurance_year: InsuranceYear) -> list[PendingSchool]:
    """Schools in the user's scope with covered students in classes whose records were not handed out yet."""
    schools = School.objects.visible_to(user).filter(office__city=insurance_year.city_id).select_related("office")
    covered_classes: dict[int, set[str]] = {}
    for school_id, class_name in (
        Enrollment.objects.filter(
            insurance_year=insurance_year, status=EnrollmentStatus.REGISTERED,
            payment_status__in=COVERED_PAYMENT_STATES, school__in=schools,
        )
        .order_by()
        .values_list("school_id", "student__class_name")
        .distinct()
    ):
        covered_classes.setdefault(school_id, set()).add(class_name)
    handed: dict[int, set[str]] = {}
    for school_id, class_name in Handout.objects.filter(insurance_year=insurance_year, school__in=schools).values_list(
        "school_id", "class_name"
    ):
        handed.setdefault(school_id, set()).add(class_name)
    result = []
    for school in schools.filter(pk__in=covered_classes.keys()).order_by("office__code", "code"):
        classes = covered_classes[school.pk]
        done = len(classes & handed.get(school.pk, set()))
        if done < len(classes):
            result.append(PendingSchool(school=school, classes=len(classes), handed_out=done))
    return result
