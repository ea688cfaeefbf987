"""Publishing the final fee standard (R2): unbilled rosters follow it, billed ones get corrections."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from enrollment.models import (
    AuditEvent,
    ChargeCorrection,
    Enrollment,
    InsuranceYear,
    Roster,
    RosterConfirmation,
    RosterState,
)
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollments_refresh_bulk
from enrollment.services.fees import fee_standard_publish
from enrollment.services.rosters import roster_confirm
from enrollment.tasks.rosters import recompute_fees_task
from tests.factories import SchoolFactory, StudentFactory, login


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def provisional(world):
    InsuranceYear.objects.filter(pk=world.year.pk).update(fee_provisional=True)
    world.year.refresh_from_db()
    rosters = {}
    for name, school in (("open", world.school), ("confirmed", world.other_school), ("billed", SchoolFactory(office=world.office))):
        StudentFactory.create_batch(2, school=school)
        roster = roster_get_or_create(school=school, insurance_year=world.year)
        enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
        if name != "open":
            roster.refresh_from_db()
            roster_confirm(actor=Actor(world.coordinator, "portal"), roster=roster, checked=True)
        if name == "billed":
            Roster.objects.filter(pk=roster.pk).update(state=RosterState.BILLED)
        rosters[name] = roster
    return rosters


def staff(world):
    return Actor(world.city_staff, "admin")


def test_publishing_recomputes_open_and_confirmed_rosters_and_corrects_billed_ones(world, provisional):
    counts = fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("250"))
    year = InsuranceYear.objects.get(pk=world.year.pk)
    assert (year.fee_standard, year.fee_provisional) == (Decimal("250.00"), False)

    assert set(Enrollment.objects.filter(school=world.school).values_list("fee_due", flat=True)) == {Decimal("250.00")}
    live = RosterConfirmation.objects.get(roster=provisional["confirmed"], reopened_at__isnull=True)
    assert live.total_amount == Decimal("500.00")
    assert set(live.lines.values_list("fee", flat=True)) == {Decimal("250.00")}
    assert not live.fee_provisional

    billed = ChargeCorrection.objects.filter(enrollment__school=provisional["billed"].school)
    assert billed.count() == 2
    assert set(billed.values_list("amount", "reason")) == {(Decimal("50.00"), "fee_standard")}
    # The billed snapshot itself is what was charged; it does not move.
    billed_live = RosterConfirmation.objects.get(roster=provisional["billed"])
    assert billed_live.total_amount == Decimal("400.00")
    assert counts["corrections"] == 2


def test_the_final_standard_published_after_the_window_is_what_the_next_debit_run_charges(world, provisional):
    import datetime

    from billing.models import DebitInstruction
    from billing.services import instructions_create
    from tests.billing.conftest import make_account, make_bank

    # Guangzhou: 200 yuan provisional, the real standard published on 5 Jan, after the window (GZ 2(3)).
    past = datetime.date.today() - datetime.timedelta(days=5)
    InsuranceYear.objects.filter(pk=world.year.pk).update(window_start=past - datetime.timedelta(days=120), window_end=past)
    world.year.refresh_from_db()
    make_account(world.other_school, make_bank(world.city))
    assert instructions_create(insurance_year=world.year) == 0  # held while the standard is provisional

    fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("180"))

    world.year.refresh_from_db()
    assert instructions_create(insurance_year=world.year) == 1
    instruction = DebitInstruction.objects.get(school=world.other_school)
    assert instruction.amount == Decimal("360.00")
    # The roster already billed at 200 gets a refund of the difference per student.
    billed = ChargeCorrection.objects.filter(enrollment__school=provisional["billed"].school)
    assert set(billed.values_list("amount", flat=True)) == {Decimal("-20.00")}


def test_only_the_years_own_city_staff_publish_its_standard(world, provisional):
    from django.core.exceptions import PermissionDenied

    from tests.factories import CityFactory, make_user

    suzhou = make_user("staff-suzhou", role="city_staff", city=CityFactory(code="suzhou", name="苏州市"), staff=True)
    with pytest.raises(PermissionDenied):
        fee_standard_publish(actor=Actor(suzhou, "admin"), insurance_year=world.year, fee_standard=Decimal("1"))
    assert InsuranceYear.objects.get(pk=world.year.pk).fee_provisional


def test_a_lower_standard_refunds_billed_students(world, provisional):
    fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("180"))
    amounts = ChargeCorrection.objects.filter(enrollment__school=provisional["billed"].school).values_list("amount", flat=True)
    assert set(amounts) == {Decimal("-20.00")}


def test_publishing_twice_does_not_charge_twice(world, provisional):
    fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("250"))
    fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("250"))
    recompute_fees_task(world.year.pk)
    assert ChargeCorrection.objects.count() == 2


def test_changing_the_published_standard_adjusts_the_pending_correction(world, provisional):
    fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("250"))
    fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("230"))
    assert set(ChargeCorrection.objects.values_list("amount", "state")) == {(Decimal("30.00"), "pending")}


def test_exempt_students_stay_at_zero(world):
    import datetime

    from enrollment.models import Exemption, ExemptionCategory

    student = StudentFactory(school=world.school)
    dibao = ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保人员"})[0]
    Exemption.objects.create(identity_number=student.identity_number, category=dibao, source="civil_affairs", valid_from=datetime.date(2000, 1, 1))
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("250"))
    assert Enrollment.objects.get(student=student).fee_due == 0


def test_publishing_audits_the_standard_and_every_changed_enrollment(world, provisional):
    fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("250"))
    event = AuditEvent.objects.get(action="fee_standard_publish")
    assert event.changes["fee_standard"] == ["200.00", "250.00"]
    assert event.actor == world.city_staff
    assert AuditEvent.objects.filter(action="enrollment_fee_recompute").count() == 6


def test_a_negative_standard_is_refused(world):
    with pytest.raises(ValidationError):
        fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("-1"))


def test_publishing_in_the_background_recomputes_after_commit(world, provisional, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = fee_standard_publish(actor=staff(world), insurance_year=world.year, fee_standard=Decimal("260"), background=True)
    assert result["deferred"] is True
    assert set(Enrollment.objects.filter(school=world.school).values_list("fee_due", flat=True)) == {Decimal("260.00")}




def test_city_staff_publish_the_standard_from_the_insurance_year_page(world, provisional, client):
    login(client, world.city_staff)
    url = "/admin/enrollment/insuranceyear/"
    form = client.post(url, {"action": "publish_final_fee_standard", "_selected_action": [world.year.pk]})
    assert form.status_code == 200 and "正式缴费标准" in form.content.decode()
    done = client.post(
        url, {"action": "publish_final_fee_standard", "_selected_action": [world.year.pk], "apply": "1", "fee_standard": "250"},
        follow=True,
    )
    assert "缴费标准已定为250.00元" in done.content.decode()
    assert InsuranceYear.objects.get(pk=world.year.pk).fee_standard == Decimal("250.00")


def test_district_staff_cannot_publish_the_standard(world, provisional, client):
    login(client, world.district_staff)
    client.post(
        "/admin/enrollment/insuranceyear/",
        {"action": "publish_final_fee_standard", "_selected_action": [world.year.pk], "apply": "1", "fee_standard": "250"},
    )
    assert InsuranceYear.objects.get(pk=world.year.pk).fee_standard == Decimal("200.00")


@pytest.mark.parametrize("persona", ["coordinator", "district_staff"])
def test_only_city_staff_may_publish_a_standard(world, persona):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        fee_standard_publish(actor=Actor(getattr(world, persona), "admin"), insurance_year=world.year, fee_standard=Decimal("250"))
    assert InsuranceYear.objects.get(pk=world.year.pk).fee_standard == Decimal("200.00")
