"""The coordinators' portal, page by page, for each persona."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from enrollment.models import Enrollment, Hotline, Job, RosterState, Student, StudentStatus
from enrollment.services.common import Actor
from enrollment.services.students import student_create, student_import_start
from tests import files
from tests.conftest import PASSWORD

BACKEND = "enrollment.auth.MembershipBackend"
PAGES = ["portal:home", "portal:students", "portal:student_add", "portal:import", "portal:roster", "portal:profile", "portal:contacts"]


def _student(world, seq=1, school=None, **overrides):
    row = files.student_row(seq, **overrides)
    data = {"name": row[0], "identity_number": row[1], "sex": "M" if row[2] == "男" else "F", "birth_date": datetime.date.fromisoformat(row[3]),
            "grade": row[4], "class_name": row[5]}
    user = world.coordinator if school in (None, world.school) else world.other_coordinator
    return student_create(actor=Actor(user=user, source="portal"), school=school or world.school, data=data)


@pytest.fixture(autouse=True)
def saved_passwords(world):
    """The factory sets the password in memory only; save it so sessions and log-ins match the database."""
    for user in (world.coordinator, world.other_coordinator, world.district_staff, world.other_district_staff, world.city_staff):
        user.save()


@pytest.fixture
def coordinator_client(client, world):
    client.force_login(world.coordinator, backend=BACKEND)
    return client


def test_login_page_logs_a_coordinator_in_and_lands_on_home(client, world):
    page = client.get(reverse("portal:login"))
    assert page.status_code == 200
    response = client.post(reverse("portal:login"), {"username": "coord", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:home")
    assert "越秀第一中学" in response.content.decode()


def test_logout_is_a_post(coordinator_client):
    response = coordinator_client.post(reverse("portal:logout"))
    assert response.status_code == 302
    assert coordinator_client.get(reverse("portal:home")).status_code == 302


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_for_the_coordinator_without_inline_script_or_style(coordinator_client, world, name):
    _student(world)
    response = coordinator_client.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html and " style=" not in html
    assert "学生名册" in html and "联系方式" in html  # navigation


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_users_are_sent_to_the_login(client, world, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and reverse("portal:login") in response["Location"]


@pytest.mark.parametrize("name", [page for page in PAGES if page != "portal:home"])
def test_bureau_staff_get_404_in_the_coordinators_portal(client, world, name):
    client.force_login(world.district_staff, backend=BACKEND)
    assert client.get(reverse(name)).status_code == 404


def test_bureau_staff_opening_the_front_page_are_sent_to_the_bureau_dashboard(client, world):
    client.force_login(world.district_staff, backend=BACKEND)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302 and response["Location"] == reverse("bureau:dashboard")


def test_home_shows_year_days_left_counts_amount_and_todos(coordinator_client, world):
    for seq in range(1, 4):
        _student(world, seq)
    html = coordinator_client.get(reverse("portal:home")).content.decode()
    assert world.year.label in html
    assert f"还有{(world.year.window_end - datetime.date.today()).days}天" in html
    assert '<td id="count-paying">3</td>' in html
    assert "600.00" in html
    assert "请登记协管员信息" in html and "请核对并确认参保名单" in html


def test_student_list_masks_numbers_and_finds_a_student_by_the_full_number(coordinator_client, world):
    student = _student(world, 1, name="李雷")
    _student(world, 2, name="韩梅梅")
    html = coordinator_client.get(reverse("portal:students"), {"q": student.identity_number.lower()}).content.decode()
    assert "李雷" in html and "韩梅梅" not in html
    assert student.identity_number not in html
    assert "*" * 14 + student.identity_number[-4:] in html


def test_student_list_filters_by_grade_class_status_and_channel(coordinator_client, world):
    _student(world, 1, name="一年级生", grade=1, class_name="1班")
    _student(world, 2, name="五年级生", grade=5, class_name="5班")
    assert "一年级生" not in coordinator_client.get(reverse("portal:students"), {"grade": "5"}).content.decode()
    assert "五年级生" not in coordinator_client.get(reverse("portal:students"), {"class_name": "1班"}).content.decode()
    assert "五年级生" in coordinator_client.get(reverse("portal:students"), {"status": "in_school", "channel": "school"}).content.decode()
    assert "五年级生" not in coordinator_client.get(reverse("portal:students"), {"status": "graduated"}).content.decode()


def test_coordinator_adds_a_student_through_the_form(coordinator_client, world):
    row = files.student_row(7)
    response = coordinator_client.post(reverse("portal:student_add"), {
        "name": "张三", "identity_number": row[1], "sex": "M" if row[2] == "男" else "F", "birth_date": row[3], "grade": 5, "class_name": "5班",
        "hukou_local": "on",
    })
    assert response.status_code == 302
    assert Enrollment.objects.filter(student__name="张三", insurance_year=world.year).exists()


def test_adding_a_student_of_another_school_shows_a_clear_message_and_moves_nothing(coordinator_client, world):
    other = _student(world, 3, school=world.other_school)
    response = coordinator_client.post(reverse("portal:student_add"), {
        "name": "张三", "identity_number": other.identity_number, "sex": other.sex, "birth_date": other.birth_date.isoformat(), "grade": 5,
    })
    assert "已在其他学校的名册中登记" in response.content.decode()
    other.refresh_from_db()
    assert other.school == world.other_school


def test_coordinator_marks_a_student_graduated_and_the_roster_follows(coordinator_client, world):
    student = _student(world)
    response = coordinator_client.post(reverse("portal:student_status", args=[student.pk]), {"status": "graduated", "on": datetime.date.today().isoformat()})
    assert response.status_code == 302
    student.refresh_from_db()
    assert student.status == StudentStatus.GRADUATED
    assert Enrollment.objects.get(student=student).status == "removed"


def test_roster_page_shows_preview_and_confirmation_freezes_it(coordinator_client, world):
    _student(world)
    page = coordinator_client.get(reverse("portal:roster"))
    html = page.content.decode()
    assert "已核对名单" in html and 'name="version"' in html
    version = page.context["roster"].version
    refused = coordinator_client.post(reverse("portal:roster_confirm"), {"version": version}, follow=True)
    assert "请先勾选" in refused.content.decode()
    coordinator_client.post(reverse("portal:roster_confirm"), {"version": version, "checked": "on"})
    assert world.school.rosters.get(insurance_year=world.year).state == RosterState.CONFIRMED


def test_roster_page_says_when_the_amount_is_provisional(coordinator_client, world):
    world.year.fee_provisional = True
    world.year.save()
    assert "暂定金额" in coordinator_client.get(reverse("portal:roster")).content.decode()


def test_suspected_graduate_is_removed_from_the_roster(coordinator_client, world):
    world.school.graduation_date = datetime.date(2026, 7, 1)
    world.school.save()
    student = _student(world, grade=12)
    enrollment = Enrollment.objects.get(student=student)
    html = coordinator_client.get(reverse("portal:roster") + "?list=suspected").content.decode()
    assert "最高年级（12年级），本校已于2026-07-01毕业" in html
    assert reverse("portal:roster_remove", args=[enrollment.pk]) in html
    coordinator_client.post(reverse("portal:roster_remove", args=[enrollment.pk]), {"reason": "已毕业"})
    assert Enrollment.objects.get(pk=enrollment.pk).status == "removed"


def test_contacts_page_lists_the_city_offices_and_hotlines(coordinator_client, world):
    Hotline.objects.create(city=world.city, topic="医保咨询", phone="12345")
    html = coordinator_client.get(reverse("portal:contacts")).content.decode()
    assert "越秀分局" in html and "海珠分局" in html and "12345" in html


def test_import_page_uploads_and_shows_the_job(coordinator_client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = coordinator_client.post(reverse("portal:import"), {
            "file": SimpleUploadedFile("名单.xlsx", files.xlsx(files.rows(3))), "mode": "strict",
        })
    job = Job.objects.get()
    assert response["Location"] == reverse("portal:import_job", args=[job.pk])
    status = coordinator_client.get(reverse("portal:import_job_status", args=[job.pk])).json()
    assert status["state"] == "succeeded" and status["percent"] == 100 and status["done"]
    assert Student.objects.filter(school=world.school).count() == 3


def test_template_download_is_an_xlsx_with_a_text_identity_column(coordinator_client):
    import io

    from openpyxl import load_workbook

    response = coordinator_client.get(reverse("portal:import_template"))
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["学生名单", "填写说明"]
    header = [c.value for c in workbook["学生名单"][1]]
    assert "身份证号码*" in header
    letter = chr(ord("A") + header.index("身份证号码*"))
    assert workbook["学生名单"].column_dimensions[letter].number_format == "@"


# --- Another school's coordinator gets 404 for everything of this school -----


def test_other_schools_coordinator_gets_404_for_every_object_of_this_school(client, world):
    student = _student(world)
    enrollment = Enrollment.objects.get(student=student)
    job = student_import_start(actor=Actor(user=world.coordinator, source="portal"), school=world.school,
                               upload=SimpleUploadedFile("s.xlsx", files.xlsx([files.student_row(1)[:4] + [15, "1班", ""]])), run_now=True)
    assert job.output_file
    client.force_login(world.other_coordinator, backend=BACKEND)
    for url, method in [
        (reverse("portal:student_edit", args=[student.pk]), "get"),
        (reverse("portal:student_status", args=[student.pk]), "post"),
        (reverse("portal:import_job", args=[job.pk]), "get"),
        (reverse("portal:import_job_status", args=[job.pk]), "get"),
        (reverse("portal:import_report", args=[job.pk]), "get"),
        (reverse("portal:roster_remove", args=[enrollment.pk]), "post"),
        (f"/api/v1/jobs/{job.pk}", "get"),
        (f"/api/v1/jobs/{job.pk}/report", "get"),
    ]:
        assert getattr(client, method)(url).status_code == 404, url
    api = client.post(f"/api/v1/schools/{world.school.code}/students/import", {"file": SimpleUploadedFile("s.csv", files.csv_bytes(files.rows(1)))})
    assert api.status_code == 404
    assert Enrollment.objects.get(pk=enrollment.pk).status == "registered"


def test_other_schools_coordinator_exports_only_their_own_school(client, world):
    _student(world, 1, name="本校学生")
    client.force_login(world.other_coordinator, backend=BACKEND)
    response = client.get(reverse("portal:export", args=["register"]))
    assert response.status_code == 200
    import io

    from openpyxl import load_workbook

    names = [row[0] for row in load_workbook(io.BytesIO(response.content)).active.values]
    assert "本校学生" not in names
