"""The year-end report shows students insured elsewhere and the follow-up of other channels, school by school."""

import io

from django.utils import timezone
from openpyxl import load_workbook

from bureau.reports import year_end_workbook
from enrollment.models import Channel, OtherChannelEnrollment, OtherInsurance, PaymentStatus, School
from tests.api.data import enroll
from tests.factories import StudentFactory


def rows_of(content, title):
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    rows = [list(row) for row in workbook[title].iter_rows(values_only=True)]
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_other_channels_show_as_confirmed_elsewhere_or_open_and_insurance_elsewhere_counts_apart(world):
    enroll(StudentFactory(school=world.school), world.year, payment_status=PaymentStatus.PAID)
    insured = enroll(StudentFactory(school=world.school), world.year, channel=Channel.INSURED_ELSEWHERE,
                     payment_status=PaymentStatus.NOT_CHARGED)
    OtherInsurance.objects.create(enrollment=insured, scheme="employee", place="广州市", valid_until=world.year.coverage_end)
    for index in range(3):
        sent = enroll(StudentFactory(school=world.school), world.year, channel=Channel.CIVIL_AFFAIRS, payment_status=PaymentStatus.NOT_CHARGED)
        if index == 0:
            OtherChannelEnrollment.objects.create(enrollment=sent, enrolled_on=timezone.localdate(), place="越秀区民政局")
    content = year_end_workbook(insurance_year=world.year, schools=School.objects.filter(pk=world.school.pk))
    school = rows_of(content, "学校参保率")[0]
    assert (school["应由学校参保"], school["已缴费或补助"], school["他处参保（计入参保率）"]) == (2, 1, 1)
    assert (school["参保率（%）"], school["学校代办参保率（%）"]) == (100.0, 50.0)
    assert (school["其他途径已确认参保"], school["其他途径待跟进"]) == (1, 2)
    district = rows_of(content, "各区参保率")[0]
    assert (district["他处参保（计入参保率）"], district["其他途径已确认参保"], district["其他途径待跟进"]) == (1, 1, 2)
