import io
from decimal import Decimal

import pytest
from django.db import connection
from openpyxl import load_workbook

from bureau.reports import year_end_report_start, year_end_workbook
from enrollment.coverage import school_coverage
from enrollment.models import Channel, Enrollment, ExemptionCategory, Job, PaymentStatus, School
from enrollment.services.common import Actor
from tests.api.data import enroll, school_with_students
from tests.factories import StudentFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def figures(world):
    school_with_students(world.school, world.year, paid=5, unpaid=2, not_enrolled=1)
    school_with_students(world.other_school, world.year, paid=1, unpaid=3)
    dibao, _ = ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保"})
    orphan, _ = ExemptionCategory.objects.get_or_create(city=world.city, code="orphan", defaults={"name": "孤儿"})
    for category in (dibao, dibao, orphan):
        enroll(StudentFactory(school=world.school), world.year, payment_status=PaymentStatus.FUNDED, exemption_category=category)
    enroll(StudentFactory(school=world.school), world.year, channel=Channel.VILLAGE_COMMITTEE, payment_status=PaymentStatus.NOT_CHARGED)
    enroll(StudentFactory(school=world.other_school, status="graduated"), world.year, payment_status=PaymentStatus.PAID)
    return world


def sql_one(query, params):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()


def sheet_rows(content, title):
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    return [list(row) for row in workbook[title].iter_rows(values_only=True)][1:]


def test_report_figures_equal_counts_made_directly_in_sql(figures):
    world = figures
    content = year_end_workbook(insurance_year=world.year, schools=School.objects.all())
    by_code = {row[0]: row for row in sheet_rows(content, "学校参保率")}
    for school in (world.school, world.other_school):
        in_school, = sql_one(
            "SELECT count(*) FROM enrollment_student WHERE school_id = %s AND status = 'in_school'", [school.pk]
        )
        other, settled = sql_one(
            """SELECT count(*) FILTER (WHERE e.channel <> 'school'),
                      count(*) FILTER (WHERE e.channel = 'school' AND e.payment_status IN ('paid', 'funded'))
               FROM enrollment_enrollment e JOIN enrollment_student s ON s.id = e.student_id
               WHERE e.school_id = %s AND e.insurance_year_id = %s AND e.status = 'registered'
                 AND s.status = 'in_school' AND s.school_id = e.school_id""",
            [school.pk, world.year.pk],
        )
        row = by_code[school.code]
        assert row[3:6] == [in_school, other, in_school - other]
        assert row[7] == settled
        assert row[9] == pytest.approx(round(settled * 100 / (in_school - other), 1))
    assert by_code[world.school.code][3:10] == [12, 1, 11, 10, 8, 3, 72.7]

    exemptions = dict(sheet_rows(content, "免缴分类"))
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.name, count(*) FROM enrollment_enrollment e JOIN enrollment_exemptioncategory c
               ON c.id = e.exemption_category_id WHERE e.insurance_year_id = %s GROUP BY c.name""", [world.year.pk]
        )
        assert exemptions == dict(cursor.fetchall()) == {"低保": 2, "孤儿": 1}

    paid_count, paid_total = sql_one(
        "SELECT count(*), sum(fee_due) FROM enrollment_enrollment WHERE insurance_year_id = %s AND payment_status = 'paid'",
        [world.year.pk],
    )
    money = {row[0]: row for row in sheet_rows(content, "缴费与退费")}
    assert money["已缴费"][1:] == [paid_count, float(paid_total)] == [7, 1400.0]


def test_refunds_in_the_report_equal_settled_refunds_in_sql(figures):
    from django.apps import apps

    world = figures
    refund_model = apps.get_model("billing", "Refund")
    paid = list(Enrollment.objects.filter(payment_status=PaymentStatus.PAID, school=world.school)[:3])
    for n, (enrollment, state) in enumerate(zip(paid, ["settled", "settled", "open"], strict=True)):
        refund_model.objects.create(
            reference=f"R{n}", enrollment=enrollment, school=enrollment.school, amount=Decimal("200.00"),
            reason="重复缴费", state=state,
        )
    count, total = sql_one(
        """SELECT count(*), sum(r.amount) FROM billing_refund r JOIN enrollment_enrollment e ON e.id = r.enrollment_id
           WHERE e.insurance_year_id = %s AND r.state = 'settled'""", [world.year.pk],
    )
    money = {row[0]: row for row in sheet_rows(year_end_workbook(insurance_year=world.year, schools=School.objects.all()), "缴费与退费")}
    assert money["已退费"][1:] == [count, float(total)] == [2, 400.0]
    assert money["实收（缴费减退费）"][2] == 1000.0


def test_district_sheet_adds_up_its_schools(figures):
    world = figures
    content = year_end_workbook(insurance_year=world.year, schools=School.objects.all())
    districts = {row[0]: row for row in sheet_rows(content, "各区参保率")}
    assert districts["越秀区"][1:8] == [1, 12, 1, 11, 10, 8, 72.7]
    assert districts["海珠区"][1:8] == [1, 4, 0, 4, 4, 1, 25.0]


def test_district_staff_report_holds_only_their_district(figures, django_capture_on_commit_callbacks):
    world = figures
    with django_capture_on_commit_callbacks(execute=True):
        job = year_end_report_start(actor=Actor(user=world.district_staff, source="admin"), insurance_year=world.year)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    with job.output_file.open("rb") as handle:
        rows = sheet_rows(handle.read(), "学校参保率")
    assert [row[0] for row in rows] == [world.school.code]


def test_coverage_rate_is_none_for_a_school_without_students(world):
    rows = school_coverage(insurance_year=world.year, schools=School.objects.all())
    assert {row.rate for row in rows} == {None}
    assert Decimal("0") == sum(row.in_school for row in rows)
