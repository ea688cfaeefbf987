"""The admin site obeys the same scoping as every other entry point: district staff see their district only."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from enrollment import identity
from enrollment.models import PersonalDataAccess
from tests.factories import SchoolAccountFactory, StudentFactory


@pytest.fixture
def students(world):
    return {
        "mine": StudentFactory(school=world.school, name="越秀学生"),
        "other": StudentFactory(school=world.other_school, name="海珠学生"),
    }


def admin_client(client, user):
    client.force_login(user)
    return client


def test_role_groups_exist_after_migrate_with_admin_permissions(world):
    staff = Group.objects.get(name="district_staff")
    assert staff.permissions.filter(codename="view_school").exists()
    assert not staff.permissions.filter(codename="add_insuranceyear").exists()
    assert Group.objects.get(name="city_staff").permissions.filter(codename="change_insuranceyear").exists()
    assert Group.objects.filter(name="coordinator").exists()
    assert world.district_staff.has_perm("enrollment.view_student")


def test_district_staff_cannot_open_another_districts_school_by_url(client, world):
    admin_client(client, world.district_staff)
    own = client.get(reverse("admin:enrollment_school_change", args=[world.school.pk]))
    assert own.status_code == 200
    other = client.get(reverse("admin:enrollment_school_change", args=[world.other_school.pk]))
    assert other.status_code in (302, 404)
    if other.status_code == 302:
        assert other.url == reverse("admin:index")


def test_district_staff_cannot_open_another_districts_student_by_url(client, world, students):
    admin_client(client, world.district_staff)
    other = client.get(reverse("admin:enrollment_student_change", args=[students["other"].pk]))
    assert other.status_code in (302, 404)
    assert students["other"].identity_number not in other.content.decode()


def test_district_staff_changelists_count_only_their_district(client, world, students):
    admin_client(client, world.district_staff)
    schools = client.get(reverse("admin:enrollment_school_changelist"))
    assert schools.context["cl"].result_count == 1
    assert "海珠第一中学" not in schools.content.decode()
    listed = client.get(reverse("admin:enrollment_student_changelist"))
    assert listed.context["cl"].result_count == 1
    assert list(listed.context["cl"].result_list) == [students["mine"]]


def test_city_staff_see_both_districts(client, world, students):
    admin_client(client, world.city_staff)
    assert client.get(reverse("admin:enrollment_school_changelist")).context["cl"].result_count == 2
    assert client.get(reverse("admin:enrollment_student_changelist")).context["cl"].result_count == 2
    page = client.get(reverse("admin:enrollment_student_change", args=[students["other"].pk]))
    assert page.status_code == 200


def test_student_list_masks_identity_numbers(client, world, students):
    admin_client(client, world.district_staff)
    body = client.get(reverse("admin:enrollment_student_changelist")).content.decode()
    number = students["mine"].identity_number
    assert number not in body
    assert identity.mask(number) in body


def test_full_identity_number_only_on_the_change_page_and_the_view_is_logged(client, world, students):
    admin_client(client, world.district_staff)
    student = students["mine"]
    page = client.get(reverse("admin:enrollment_student_change", args=[student.pk]))
    assert student.identity_number in page.content.decode()
    access = PersonalDataAccess.objects.get(user=world.district_staff)
    assert access.target == f"student:{student.pk}"


def test_students_are_found_by_full_number_even_typed_in_full_width_or_by_name(client, world, students):
    admin_client(client, world.district_staff)
    student = students["mine"]
    url = reverse("admin:enrollment_student_changelist")
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c.lower() for c in student.identity_number)
    assert list(client.get(url, {"q": full_width}).context["cl"].result_list) == [student]
    assert list(client.get(url, {"q": "越秀学生"}).context["cl"].result_list) == [student]
    # A prefix of a number finds nothing: the list cannot be used to enumerate numbers.
    assert client.get(url, {"q": student.identity_number[:10]}).context["cl"].result_count == 0
    # Another district's student is not found by number either.
    other = students["other"].identity_number
    assert client.get(url, {"q": other}).context["cl"].result_count == 0


def test_school_autocomplete_offers_only_the_district_schools(client, world):
    admin_client(client, world.district_staff)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "enrollment", "model_name": "student", "field_name": "school", "term": "中学"},
    )
    assert response.status_code == 200
    names = [row["text"] for row in response.json()["results"]]
    assert names == [str(world.school)]


def test_school_account_numbers_are_masked_in_the_school_list(client, world):
    account = SchoolAccountFactory(school=world.school, account_number="6222020000012345678")
    account.bank.allowed_in.add(world.city)
    admin_client(client, world.district_staff)
    body = client.get(reverse("admin:enrollment_school_changelist")).content.decode()
    assert "6222020000012345678" not in body
    assert "****5678" in body


def test_district_staff_see_memberships_of_their_district_only(client, world):
    admin_client(client, world.district_staff)
    response = client.get(reverse("admin:enrollment_membership_changelist"))
    users = {m.user.username for m in response.context["cl"].result_list}
    assert users == {"coord", "staff-yuexiu"}


def test_every_reference_admin_page_opens_for_city_staff(client, world, students):
    from django.core.management import call_command

    from enrollment.models import CitizenCard, Job

    call_command("loaddata", "reference", verbosity=0)
    SchoolAccountFactory(school=world.school)
    CitizenCard.objects.create(student=students["mine"])
    Job.objects.create(kind=Job.Kind.STUDENT_IMPORT, school=world.school)
    admin_client(client, world.city_staff)
    # Guangzhou's notice exempts no one at school: its staff find no exemption category (all are Suzhou's).
    categories = client.get(reverse("admin:enrollment_exemptioncategory_changelist"))
    assert categories.status_code == 200 and list(categories.context["cl"].result_list) == []
    for model in ("city", "office", "bank", "insuranceyear", "school", "schoolaccount",
                  "membership", "student", "citizencard", "job"):
        listing = client.get(reverse(f"admin:enrollment_{model}_changelist"))
        assert listing.status_code == 200, model
        first = listing.context["cl"].result_list[0]
        page = client.get(reverse(f"admin:enrollment_{model}_change", args=[first.pk]))
        assert page.status_code == 200, model


def test_jobs_are_read_only_in_the_admin(client, world):
    from enrollment.models import Job

    job = Job.objects.create(kind=Job.Kind.STUDENT_IMPORT, school=world.school)
    admin_client(client, world.city_staff)
    assert client.get(reverse("admin:enrollment_job_add")).status_code == 403
    response = client.post(reverse("admin:enrollment_job_change", args=[job.pk]), {"state": "failed"})
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.state == Job.State.PENDING


def student_form(student, **changes):
    data = {
        "identity_number": student.identity_number, "name": student.name, "sex": student.sex,
        "birth_date": student.birth_date.isoformat(), "grade": student.grade, "class_name": student.class_name,
        "medical_assistance": "", "hukou_local": "on", "has_citizen_card": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_a_student_edited_in_the_admin_goes_through_the_service_and_is_audited(client, world, students):
    from enrollment.models import AuditEvent

    student = students["mine"]
    admin_client(client, world.district_staff)
    url = reverse("admin:enrollment_student_change", args=[student.pk])
    response = client.post(url, student_form(student, name="越秀学生甲", hukou_rural="on"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    student.refresh_from_db()
    assert (student.name, student.hukou_rural) == ("越秀学生甲", True)
    event = AuditEvent.objects.get(action="student_update", student=student)
    assert event.source == "admin" and event.actor == world.district_staff
    # The service refreshed the enrollment of the open year, as a portal edit would.
    assert student.enrollments.filter(insurance_year=world.year).exists()


def test_an_admin_edit_with_a_contradicting_birth_date_is_refused_on_the_form(client, world, students):
    student = students["mine"]
    admin_client(client, world.district_staff)
    url = reverse("admin:enrollment_student_change", args=[student.pk])
    response = client.post(url, student_form(student, birth_date="2001-01-01", name="改名"))
    assert response.status_code == 200
    assert "出生日期与证件号码不一致" in response.content.decode()
    student.refresh_from_db()
    assert student.name == "越秀学生"


def test_an_admin_edit_after_the_window_closed_is_refused(client, world, students):
    import datetime

    world.year.window_start = datetime.date(2020, 9, 1)
    world.year.window_end = datetime.date(2020, 11, 30)
    world.year.save()
    student = students["mine"]
    admin_client(client, world.city_staff)
    url = reverse("admin:enrollment_student_change", args=[student.pk])
    response = client.post(url, student_form(student, name="改名"))
    assert response.status_code == 200
    assert "申报缴费期" in response.content.decode()
    student.refresh_from_db()
    assert student.name == "越秀学生"


def test_card_pickup_is_recorded_through_the_admin_action_for_ready_cards_only(client, world, students):
    from enrollment.models import CitizenCard

    ready = CitizenCard.objects.create(student=students["mine"], state=CitizenCard.State.READY)
    other = StudentFactory(school=world.school)
    missing = CitizenCard.objects.create(student=other)
    admin_client(client, world.district_staff)
    response = client.post(
        reverse("admin:enrollment_citizencard_changelist"),
        {"action": "mark_picked_up", "_selected_action": [ready.pk, missing.pk]},
        follow=True,
    )
    assert response.status_code == 200
    ready.refresh_from_db()
    missing.refresh_from_db()
    assert ready.state == CitizenCard.State.PICKED_UP
    assert missing.state == CitizenCard.State.PHOTO_MISSING
    assert "只有待领取的市民卡才能登记领取" in response.content.decode()


def year_form(year, **changes):
    data = {
        "city": year.city_id, "label": year.label, "collection_route": year.collection_route,
        "fee_standard": str(year.fee_standard), "fee_provisional": "on" if year.fee_provisional else "",
        "window_start": year.window_start.isoformat(), "window_end": year.window_end.isoformat(),
        "coverage_start": year.coverage_start.isoformat(), "coverage_end": year.coverage_end.isoformat(),
        "coordinator_deadline": "",
        "channel_rules-TOTAL_FORMS": "0", "channel_rules-INITIAL_FORMS": "0",
        "channel_rules-MIN_NUM_FORMS": "0", "channel_rules-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_a_new_fee_standard_saved_in_the_admin_is_published_through_the_fee_service(client, world):
    from decimal import Decimal

    from enrollment.models import AuditEvent

    world.year.fee_provisional = True
    world.year.save()
    admin_client(client, world.city_staff)
    url = reverse("admin:enrollment_insuranceyear_change", args=[world.year.pk])
    response = client.post(url, year_form(world.year, fee_standard="380.00", fee_provisional=""))
    assert response.status_code == 302, response.context["adminform"].form.errors
    world.year.refresh_from_db()
    assert (world.year.fee_standard, world.year.fee_provisional) == (Decimal("380.00"), False)
    assert AuditEvent.objects.filter(action="fee_standard_publish", object_id=world.year.pk, source="admin").exists()


def test_a_fee_change_that_keeps_the_standard_provisional_is_refused(client, world):
    from decimal import Decimal

    world.year.fee_provisional = True
    world.year.save()
    admin_client(client, world.city_staff)
    url = reverse("admin:enrollment_insuranceyear_change", args=[world.year.pk])
    response = client.post(url, year_form(world.year, fee_standard="380.00"))
    assert response.status_code == 200
    assert "暂定标准" in response.content.decode()
    world.year.refresh_from_db()
    assert world.year.fee_standard == Decimal("200.00")


def test_a_debit_account_at_a_bank_not_allowed_in_the_city_is_refused(client, world):
    from enrollment.models import SchoolAccount
    from tests.factories import BankFactory, CityFactory

    suzhou_only = BankFactory(name="苏州某银行")
    suzhou_only.allowed_in.add(CityFactory(code="suzhou", name="苏州市"))
    admin_client(client, world.district_staff)
    response = client.post(reverse("admin:enrollment_schoolaccount_add"), {
        "school": world.school.pk, "bank": suzhou_only.pk, "account_number": "6222020000012345678",
        "holder_name": world.school.name, "agreement_signed_on": "2026-07-01", "active": "on",
    })
    assert response.status_code == 200
    # The bank is not even offered: only the city's allowed banks are choices (GZ 1(4)).
    assert "bank" in response.context["adminform"].form.errors
    assert not SchoolAccount.objects.exists()


def test_role_groups_are_created_once_however_often_migrate_runs(world):
    from django.core.management import call_command

    before = {g.name: g.permissions.count() for g in Group.objects.all()}
    call_command("migrate", verbosity=0)
    after = {g.name: g.permissions.count() for g in Group.objects.all()}
    assert after == before
    assert Group.objects.filter(name__in=["coordinator", "district_staff", "city_staff"]).count() == 3


def test_a_student_of_a_confirmed_roster_edited_in_the_admin_gets_a_form_error_saying_why(client, world, students):
    from enrollment.models import Student
    from enrollment.services.common import Actor, roster_get_or_create
    from enrollment.services.enrollments import enrollments_refresh_bulk
    from enrollment.services.rosters import roster_confirm

    student = students["mine"]
    roster = roster_get_or_create(school=world.school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("t"), roster=roster)
    roster_confirm(actor=Actor(user=world.coordinator, source="portal"), roster=roster, checked=True)
    admin_client(client, world.district_staff)
    url = reverse("admin:enrollment_student_change", args=[student.pk])
    response = client.post(url, student_form(student, name="改名"))
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert "已确认" in errors and "退回" in errors
    assert Student.objects.get(pk=student.pk).name == student.name
