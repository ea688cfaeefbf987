"""The demo data a newcomer starts from: complete, open for declaration today, and safe to load twice."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from bureau.management.commands.seed_demo import DEFAULT_PASSWORD
from coordinators.models import Coordinator
from enrollment import identity
from enrollment.models import (
    Exemption,
    InsuranceYear,
    Membership,
    OtherChannelEnrollment,
    OtherInsurance,
    Roster,
    RosterState,
    School,
    SchoolAccount,
    Student,
    StudentStatus,
    Transfer,
)
from enrollment.selectors import late_enrollments


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (InsuranceYear, School, SchoolAccount, Student, Exemption, Membership, Coordinator)
    }


@pytest.mark.django_db
def test_seed_demo_twice_creates_everything_once_with_an_open_window_per_city(capsys, django_user_model, settings):
    settings.DEBUG = True  # a development machine: the known demo password is set and printed
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first

    today = timezone.localdate()
    for city in ("guangzhou", "suzhou"):
        open_years = [y for y in InsuranceYear.objects.filter(city__code=city) if y.window_is_open(today)]
        assert len(open_years) == 1, city
        assert open_years[0].channel_rules.exists()
    assert School.objects.filter(code__startswith="DEMO-").count() == 5
    assert SchoolAccount.objects.filter(active=True, agreement_signed_on__isnull=False).count() == 5
    assert 250 <= Student.objects.count() <= 350
    assert Student.objects.filter(hukou_rural=True).exists()
    assert Student.objects.exclude(medical_assistance="").exists()
    assert Exemption.objects.exists()
    for student in Student.objects.all():
        assert identity.validate(student.identity_number) == student.identity_number
    assert Coordinator.objects.count() == 5

    # Each demo school has students in its final grade, who will be reviewed as graduates.
    for school in School.objects.filter(code__startswith="DEMO-"):
        assert school.students.filter(grade=school.final_grade).exists()
    for username in ("admin", "coord-gz1", "staff-yuexiu", "staff-gz", "staff-sz"):
        assert django_user_model.objects.get(username=username).check_password(DEFAULT_PASSWORD)

    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/" in out
    assert "coord-gz1" in out and "staff-yuexiu" in out and "admin" in out



@pytest.mark.django_db
def test_the_demo_shows_each_change_of_the_year_once_and_leaves_the_other_rosters_open():
    call_command("seed_demo")
    call_command("seed_demo")

    confirmed = Roster.objects.get(school__code="DEMO-SZ-U02")
    assert confirmed.state != RosterState.OPEN
    assert sorted(e.student.name for e in late_enrollments(roster=confirmed)) == ["沈雨桐", "钱浩然"]
    assert Roster.objects.exclude(pk=confirmed.pk).filter(state=RosterState.OPEN).count() == 4
    transfer = Transfer.objects.get()
    assert (transfer.state, transfer.from_school.code, transfer.to_school.code) == (
        "pending", "DEMO-GZ-HZ-001", "DEMO-GZ-YX-001")
    assert OtherInsurance.objects.get().enrollment.school.code == "DEMO-SZ-U01"
    assert list(Student.objects.filter(status=StudentStatus.LEFT).values_list("school__code", flat=True)) == ["DEMO-GZ-YX-001"]
    followed = OtherChannelEnrollment.objects.get()
    assert followed.enrollment.channel == "village_committee"
