from enrollment.models import School, Student
from tests.factories import StudentFactory


def test_coordinator_sees_only_own_school_students(world):
    mine = StudentFactory(school=world.school)
    StudentFactory(school=world.other_school)
    assert list(Student.objects.visible_to(world.coordinator)) == [mine]


def test_district_staff_see_only_their_district_schools(world):
    assert list(School.objects.visible_to(world.district_staff)) == [world.school]
    assert list(School.objects.visible_to(world.other_district_staff)) == [world.other_school]


def test_city_staff_see_every_school_of_the_city(world):
    assert set(School.objects.visible_to(world.city_staff)) == {world.school, world.other_school}
