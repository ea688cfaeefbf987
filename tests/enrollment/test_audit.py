"""The audit trail: who changed what, when, old and new values; bulk changes too, one row each."""

from decimal import Decimal

import pytest

from enrollment.models import AuditEvent, Enrollment, Roster, StudentStatus
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollment_refresh, enrollment_remove, enrollments_refresh_bulk
from enrollment.services.rosters import roster_confirm
from tests.factories import StudentFactory, login


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_bulk_refresh_writes_one_audit_row_per_enrollment_with_new_values(world):
    students = StudentFactory.create_batch(25, school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor(world.coordinator, "import"), roster=roster)
    events = AuditEvent.objects.filter(action="enrollment_create", roster=roster)
    assert events.count() == 25
    assert set(events.values_list("student_id", flat=True)) == {s.pk for s in students}
    event = events.first()
    assert event.actor == world.coordinator and event.source == "import" and event.school == world.school
    assert event.changes["fee_due"] == [None, "200.00"]
    assert event.changes["channel"] == [None, "school"]


def test_a_change_records_old_and_new_values(world):
    student = StudentFactory(school=world.school)
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    student.status = StudentStatus.LEFT
    student.save()
    enrollment_refresh(actor=Actor(world.coordinator, "portal"), student=student, insurance_year=world.year)
    event = AuditEvent.objects.get(action="enrollment_update", student=student)
    assert event.changes["status"] == ["registered", "removed"]
    assert event.changes["fee_due"] == [str(Decimal("200.00")), "0.00"]
    assert event.actor == world.coordinator


def test_removal_and_confirmation_are_in_the_students_and_rosters_history(world):
    student = StudentFactory(school=world.school)
    StudentFactory(school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    enrollment_remove(actor=Actor(world.coordinator, "portal"), enrollment=Enrollment.objects.get(student=student), reason="转学")
    roster_confirm(actor=Actor(world.coordinator, "portal"), roster=Roster.objects.get(pk=roster.pk), checked=True)
    history = list(AuditEvent.objects.filter(student=student).order_by("id").values_list("action", flat=True))
    assert history == ["enrollment_create", "enrollment_remove"]
    confirm = AuditEvent.objects.get(action="roster_confirm", roster=roster)
    assert confirm.changes["state"] == ["open", "confirmed"]
    assert confirm.changes["paying_count"] == [None, 1]


def test_nobody_can_change_or_delete_audit_rows_in_the_admin(world, client):
    from django.contrib.auth import get_user_model

    enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school), insurance_year=world.year)
    event = AuditEvent.objects.get()
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x-very-secret-1")
    login(client, root)
    assert client.get(f"/admin/enrollment/auditevent/{event.pk}/change/").status_code == 200
    client.post(f"/admin/enrollment/auditevent/{event.pk}/change/", {"note": "改"})
    assert client.post(f"/admin/enrollment/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).note == ""
    assert client.get("/admin/enrollment/auditevent/add/").status_code == 403


def test_a_students_history_is_reachable_by_filter_and_scoped(world, client):
    student = StudentFactory(school=world.school)
    enrollment_refresh(actor=Actor.job("t"), student=student, insurance_year=world.year)
    login(client, world.district_staff)
    page = client.get(f"/admin/enrollment/auditevent/?student__id__exact={student.pk}")
    assert page.status_code == 200 and page.context["cl"].result_count == 1
    login(client, world.other_district_staff)
    page = client.get(f"/admin/enrollment/auditevent/?student__id__exact={student.pk}")
    assert page.context["cl"].result_count == 0


def test_the_audit_list_names_each_kind_of_change_in_words(world, client):
    enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school), insurance_year=world.year)
    login(client, world.district_staff)
    page = client.get("/admin/enrollment/auditevent/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<td class="field-action">新增参保登记</td>' in page


def test_a_change_of_no_known_kind_is_refused_before_it_is_written(world):
    from enrollment.services.common import audit_record

    with pytest.raises(ValueError):
        audit_record(actor=Actor.job("t"), action="student_checked", obj=world.school)
    assert not AuditEvent.objects.exists()


def test_the_database_refuses_an_audit_row_of_no_known_kind(world):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.create(source="job", action="student_checked", model="school", object_id=world.school.pk)


def test_the_personal_data_access_log_is_visible_to_city_staff_and_editable_by_nobody(world, client):
    from enrollment.models import PersonalDataAccess

    entry = PersonalDataAccess.objects.create(user=world.city_staff, action="admin_view_student", target="student:1")
    login(client, world.city_staff)
    assert client.get("/admin/enrollment/personaldataaccess/").status_code == 200
    assert client.post(f"/admin/enrollment/personaldataaccess/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/enrollment/personaldataaccess/add/").status_code == 403
    login(client, world.district_staff)
    assert client.get("/admin/enrollment/personaldataaccess/").status_code == 403
    assert PersonalDataAccess.objects.filter(pk=entry.pk).exists()


def test_district_staff_cannot_open_another_districts_roster_in_the_admin(world, client):
    roster = roster_get_or_create(school=world.other_school, insurance_year=world.year)
    login(client, world.district_staff)
    assert client.get(f"/admin/enrollment/roster/{roster.pk}/change/").status_code in (302, 404)
    login(client, world.other_district_staff)
    assert client.get(f"/admin/enrollment/roster/{roster.pk}/change/").status_code == 200


def test_the_rule_pages_open_for_city_staff_and_show_numbers_masked(world, client):
    import datetime

    from enrollment.models import ChargeCorrection, Exemption, ExemptionCategory, RosterConfirmation

    student = StudentFactory(school=world.school)
    category = ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保人员"})[0]
    exemption = Exemption.objects.create(
        identity_number=student.identity_number, category=category, source="civil_affairs", valid_from=datetime.date(2000, 1, 1)
    )
    other = StudentFactory(school=world.school)
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    confirmation = roster_confirm(actor=Actor(world.coordinator, "portal"), roster=Roster.objects.get(pk=roster.pk), checked=True)
    correction = ChargeCorrection.objects.create(enrollment=Enrollment.objects.get(student=other), amount=Decimal("-200"), reason="left")
    login(client, world.city_staff)
    pages = {
        "exemption": exemption.pk, "enrollment": Enrollment.objects.get(student=student).pk, "roster": roster.pk,
        "rosterconfirmation": confirmation.pk, "chargecorrection": correction.pk,
    }
    for model, pk in pages.items():
        listing = client.get(f"/admin/enrollment/{model}/")
        assert listing.status_code == 200, model
        assert student.identity_number not in listing.content.decode(), model
        assert client.get(f"/admin/enrollment/{model}/{pk}/change/").status_code == 200, model
    assert isinstance(confirmation, RosterConfirmation)
