"""Students sent to the village committee, civil affairs or the federation: the bureau records they were enrolled there."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from enrollment import coverage
from enrollment.models import ChannelRule, School
from enrollment.selectors_changes import follow_ups
from enrollment.services.common import Actor
from enrollment.services.elsewhere import other_channel_enrollment_record
from enrollment.services.enrollments import enrollment_refresh
from tests.factories import StudentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rural(world):
    ChannelRule.objects.create(insurance_year=world.year, order=1, condition=ChannelRule.Condition.RURAL_HUKOU,
                               channel="village_committee")
    return [
        enrollment_refresh(actor=Actor.job("t"), student=StudentFactory(school=world.school, hukou_rural=True), insurance_year=world.year)
        for _ in range(2)
    ]


def staff(world):
    return Actor(user=world.district_staff, source="admin")


def test_recorded_students_show_as_confirmed_elsewhere_and_the_rest_as_open(world, rural):
    other_channel_enrollment_record(actor=staff(world), enrollment=rural[0], enrolled_on=timezone.localdate(), place="某村民委员会")
    row = coverage.school_coverage(insurance_year=world.year, schools=School.objects.filter(pk=world.school.pk))[0]
    assert (row.followed_up, row.follow_up_open) == (1, 1)
    district = coverage.district_coverage([row])[0]
    assert (district.followed_up, district.follow_up_open) == (1, 1)
    assert [e.pk for e in follow_ups(user=world.district_staff, insurance_year=world.year)] == [rural[1].pk]


def test_staff_of_another_district_can_neither_see_nor_record(world, rural):
    assert not follow_ups(user=world.other_district_staff, insurance_year=world.year).exists()
    with pytest.raises(PermissionDenied):
        other_channel_enrollment_record(actor=Actor(user=world.other_district_staff, source="admin"), enrollment=rural[0],
                                        enrolled_on=timezone.localdate(), place="某村")
    with pytest.raises(PermissionDenied):
        other_channel_enrollment_record(actor=Actor(user=world.coordinator, source="portal"), enrollment=rural[0],
                                        enrolled_on=timezone.localdate(), place="某村")


def test_a_date_in_the_future_is_refused(world, rural):
    with pytest.raises(ValidationError) as refused:
        other_channel_enrollment_record(actor=staff(world), enrollment=rural[0],
                                        enrolled_on=timezone.localdate() + datetime.timedelta(days=1), place="某村")
    assert "enrolled_on" in refused.value.message_dict
