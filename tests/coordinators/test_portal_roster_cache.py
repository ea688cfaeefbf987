"""The roster page's counts and lists come from the cache until anything they show changes."""

import datetime

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from enrollment.models import Enrollment, Student
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollment_remove, enrollments_refresh_bulk
from enrollment.services.students import student_update
from graduates.models import GraduateFeed, GraduateRecord
from graduates.services import feed_receive
from tests.factories import StudentFactory, login

URL = reverse("portal:roster")


def _roster(world, n, school=None, **student):
    school = school or world.school
    students = StudentFactory.create_batch(n, school=school, **student)
    roster = roster_get_or_create(school=school, insurance_year=world.year)
    enrollments_refresh_bulk(actor=Actor.job("test"), roster=roster)
    return students


def _page(client, query="") -> str:
    return client.get(URL + query).content.decode()


def test_second_look_at_the_roster_page_is_served_from_the_cache(client, world):
    _roster(world, 30)
    login(client, world.coordinator)
    first = _page(client)
    with CaptureQueriesContext(connection) as queries:
        second = _page(client)
    assert second == first.replace(_csrf(first), _csrf(second))
    sql = " ".join(q["sql"] for q in queries)
    assert "enrollment_enrollment" not in sql and len(queries) <= 5


def test_roster_page_shows_a_student_renamed_through_the_register_at_once(client, world):
    student = _roster(world, 3)[0]
    login(client, world.coordinator)
    assert student.name in _page(client)
    data = {field: getattr(student, field) for field in ("identity_number", "sex", "birth_date", "grade", "class_name")}
    student_update(actor=Actor(user=world.coordinator, source="portal"), student=student, data={**data, "name": "改名后学生"})
    page = _page(client)
    assert "改名后学生" in page and f"<td>{student.name}</td>" not in page


def test_roster_page_shows_a_student_changed_by_any_sql_at_once(client, world):
    student = _roster(world, 3)[0]
    login(client, world.coordinator)
    _page(client)
    # No service, no signal, no roster version: only the database trigger sees this write.
    Student.objects.filter(pk=student.pk).update(name="直接改名", class_name="9年级9班")
    page = _page(client)
    assert "直接改名" in page and "9年级9班" in page


def test_roster_page_of_the_old_school_shows_a_moved_students_new_name(client, world):
    student = _roster(world, 2)[0]
    login(client, world.coordinator)
    _page(client)
    # Moved to another school; this year's enrollment stays on the old school's roster.
    Student.objects.filter(pk=student.pk).update(school=world.other_school)
    _page(client)
    Student.objects.filter(pk=student.pk).update(name="转学后改名")
    assert "转学后改名" in _page(client)


def test_roster_page_counts_follow_a_removal_at_once(client, world):
    _roster(world, 4)
    login(client, world.coordinator)
    assert 'id="preview-paying">4<' in _page(client)
    enrollment = Enrollment.objects.filter(school=world.school).first()
    enrollment_remove(actor=Actor(user=world.coordinator, source="portal"), enrollment=enrollment, reason="已转学")
    page = _page(client)
    assert 'id="preview-paying">3<' in page and "学校缴费名单（3）" in page


def test_roster_page_suspects_a_student_as_soon_as_a_graduate_feed_names_them(client, world):
    student = _roster(world, 2)[0]
    login(client, world.coordinator)
    assert "疑似毕业生（请核对后剔除）（0）" in _page(client, "?list=suspected")
    feed = feed_receive(source="school_roll", via=GraduateFeed.Via.API, records=[{
        "identity_number": student.identity_number, "name": student.name, "school_code": world.school.code,
        "graduation_date": "2026-06-30", "class_name": student.class_name,
    }]).feed
    # What the nightly run's matching writes, without the rest of the run.
    GraduateRecord.objects.filter(feed=feed).update(school=world.school, student=student)
    page = _page(client, "?list=suspected")
    assert "疑似毕业生（请核对后剔除）（1）" in page and "在毕业生数据中" in page


def test_cached_roster_lists_are_never_shown_to_another_school(client, world):
    _roster(world, 3, name="本校学生")
    _roster(world, 2, school=world.other_school, name="别校学生")
    login(client, world.coordinator)
    assert "本校学生" in _page(client)
    client.logout()
    login(client, world.other_coordinator)
    page = _page(client)
    assert "别校学生" in page and "本校学生" not in page


def test_roster_page_in_english_is_not_served_the_chinese_cache(client, world):
    _roster(world, 2)
    login(client, world.coordinator)
    assert "学校缴费名单" in _page(client)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = _page(client)
    assert "学校缴费名单" not in page


def test_remove_link_of_the_cached_suspected_list_still_removes(client, world):
    world.school.graduation_date = datetime.date(2026, 7, 1)
    world.school.save()
    students = _roster(world, 2, grade=world.school.final_grade)
    login(client, world.coordinator)
    _page(client, "?list=suspected")
    page = _page(client, "?list=suspected")
    enrollment = Enrollment.objects.get(student=students[0])
    assert f'href="{reverse("portal:roster_remove", args=[enrollment.pk])}"' in page
    form = client.get(reverse("portal:roster_remove", args=[enrollment.pk])).content.decode()
    client.post(reverse("portal:roster_remove", args=[enrollment.pk]), {"reason": "已毕业", "csrfmiddlewaretoken": _csrf(form)})
    enrollment.refresh_from_db()
    assert enrollment.status == "removed"
    assert "疑似毕业生（请核对后剔除）（1）" in _page(client, "?list=suspected")


def _csrf(page: str) -> str:
    marker = 'name="csrfmiddlewaretoken" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def test_roster_page_suspects_the_final_grade_as_soon_as_the_schools_graduation_date_passes(client, world):
    _roster(world, 2, grade=world.school.final_grade)
    login(client, world.coordinator)
    assert "疑似毕业生（请核对后剔除）（0）" in _page(client, "?list=suspected")
    # Set by the office on the school's record: no student, enrollment or roster write follows.
    world.school.graduation_date = datetime.date(2026, 7, 1)
    world.school.save()
    page = _page(client, "?list=suspected")
    assert "疑似毕业生（请核对后剔除）（2）" in page and "本校已于2026-07-01毕业" in page
