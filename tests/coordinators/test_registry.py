"""The coordinator registry: annex 2 entries, their history, and what bureau staff see missing."""

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from coordinators.models import Coordinator
from coordinators.services.registry import coordinator_deactivate, coordinator_register, coordinator_update
from enrollment.models import Job, Student
from enrollment.services.common import Actor
from tests import files
from tests.factories import SchoolFactory

BACKEND = "enrollment.auth.MembershipBackend"
DATA = {"name": "陈老师", "gender": "F", "department": "教务处", "post": "副主任", "work_phone": "020-83331234", "mobile": "13800138000"}


@pytest.fixture(autouse=True)
def saved_passwords(world):
    for user in (world.coordinator, world.other_coordinator, world.district_staff, world.other_district_staff, world.city_staff):
        user.save()


def _actor(user):
    return Actor(user=user, source="portal")


def test_every_change_is_kept_with_who_and_when(world):
    coordinator = coordinator_register(actor=_actor(world.coordinator), school=world.school, data=DATA, user=world.coordinator)
    coordinator_update(actor=_actor(world.district_staff), coordinator=coordinator, data={"mobile": "13900139000"})
    coordinator_deactivate(actor=_actor(world.district_staff), coordinator=coordinator, reason="调岗")
    history = list(coordinator.changes.order_by("changed_at", "id"))
    assert [h.action for h in history] == ["register", "update", "deactivate"]
    assert history[1].changes == {"mobile": ["13800138000", "13900139000"]}
    assert history[1].changed_by == world.district_staff and history[0].changed_by == world.coordinator
    assert not Coordinator.objects.get(pk=coordinator.pk).active


def test_a_wrong_mobile_number_is_refused_with_the_field(world):
    with pytest.raises(ValidationError) as info:
        coordinator_register(actor=_actor(world.coordinator), school=world.school, data={**DATA, "mobile": "12345"})
    assert "mobile" in info.value.message_dict
    assert not Coordinator.objects.exists()


def test_coordinator_registers_and_edits_their_profile_in_the_portal(client, world):
    client.force_login(world.coordinator, backend=BACKEND)
    client.post(reverse("portal:profile"), DATA)
    coordinator = Coordinator.objects.get(user=world.coordinator)
    assert coordinator.school == world.school
    client.post(reverse("portal:profile"), {**DATA, "post": "主任"})
    coordinator.refresh_from_db()
    assert coordinator.post == "主任"
    html = client.get(reverse("portal:profile")).content.decode()
    assert "副主任 → 主任" in html
    assert "请登记协管员信息" not in client.get(reverse("portal:home")).content.decode()


def test_staff_see_schools_without_coordinator_of_their_office_and_which_are_late(client, world):
    coordinator_register(actor=_actor(world.coordinator), school=world.school, data=DATA)
    missing = SchoolFactory(code="GZ-YX-002", name="越秀第二中学", office=world.office)
    world.year.coordinator_deadline = datetime.date.today() - datetime.timedelta(days=1)
    world.year.save()
    client.force_login(world.district_staff, backend=BACKEND)
    html = client.get(reverse("admin:coordinators_missing")).content.decode()
    assert missing.name in html and "已逾期" in html
    assert world.school.name not in html.split('id="missing-schools"')[1]
    assert world.other_school.name not in html  # another district's school


def test_annex2_export_lists_each_office_coordinators_for_city_staff(client, world):
    coordinator_register(actor=_actor(world.coordinator), school=world.school, data=DATA)
    coordinator_register(actor=_actor(world.other_coordinator), school=world.other_school, data={**DATA, "name": "=HYPERLINK(1)"})
    client.force_login(world.city_staff, backend=BACKEND)
    workbook = load_workbook(io.BytesIO(client.get(reverse("admin:coordinators_annex2")).content))
    assert set(workbook.sheetnames) >= {"越秀分局", "海珠分局"}
    rows = list(workbook["越秀分局"].values)
    assert rows[2][1:4] == ("越秀第一中学", "陈老师", "女")
    assert list(workbook["海珠分局"].values)[2][2] == "'=HYPERLINK(1)"


def test_district_staff_export_has_only_their_office(client, world):
    coordinator_register(actor=_actor(world.other_coordinator), school=world.other_school, data=DATA)
    client.force_login(world.district_staff, backend=BACKEND)
    workbook = load_workbook(io.BytesIO(client.get(reverse("admin:coordinators_annex2")).content))
    assert workbook.sheetnames == ["越秀分局"]


def test_coordinator_list_in_admin_is_scoped_and_shows_history(client, world):
    own = coordinator_register(actor=_actor(world.coordinator), school=world.school, data=DATA)
    other = coordinator_register(actor=_actor(world.other_coordinator), school=world.other_school, data=DATA)
    client.force_login(world.district_staff, backend=BACKEND)
    assert client.get(reverse("admin:coordinators_coordinator_change", args=[own.pk])).status_code == 200
    assert client.get(reverse("admin:coordinators_coordinator_change", args=[other.pk])).status_code in (302, 404)


def test_staff_import_students_for_a_school_of_their_office(client, world, django_capture_on_commit_callbacks):
    client.force_login(world.district_staff, backend=BACKEND)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:coordinators_student_import"), {
            "school": world.school.pk, "mode": "strict", "file": SimpleUploadedFile("s.xlsx", files.xlsx(files.rows(4))),
        })
    job = Job.objects.get()
    assert response["Location"] == reverse("admin:coordinators_student_import_job", args=[job.pk])
    assert Student.objects.filter(school=world.school).count() == 4
    assert client.get(reverse("admin:coordinators_student_import_status", args=[job.pk])).json()["state"] == "succeeded"
    refused = client.post(reverse("admin:coordinators_student_import"), {
        "school": world.other_school.pk, "mode": "strict", "file": SimpleUploadedFile("s.xlsx", files.xlsx(files.rows(1, start=9))),
    })
    assert refused.status_code == 200 and Job.objects.count() == 1


def test_the_portal_change_log_speaks_in_the_forms_words(client, world):
    client.force_login(world.coordinator, backend=BACKEND)
    client.post(reverse("portal:profile"), DATA)
    client.post(reverse("portal:profile"), {**DATA, "mobile": "13900139000", "email": "chen@example.cn"})

    html = client.get(reverse("portal:profile")).content.decode()

    assert "手机号码：13800138000 → 13900139000" in html and "电子邮箱： → chen@example.cn" in html
    assert "<td>修改</td>" in html and "<td>登记</td>" in html
    assert "mobile" not in html.split("变更记录")[1] and "<td>update</td>" not in html


def test_a_change_names_the_coordinator_and_what_was_done(world):
    coordinator = coordinator_register(actor=_actor(world.coordinator), school=world.school, data=DATA, user=world.coordinator)
    assert str(coordinator.changes.get()).startswith("陈老师 登记 ")
