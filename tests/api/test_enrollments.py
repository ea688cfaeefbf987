from enrollment.models import PaymentStatus
from tests.api.data import enroll
from tests.factories import StudentFactory


def test_enrollments_are_scoped_and_filterable(world, api):
    mine = enroll(StudentFactory(school=world.school), world.year, payment_status=PaymentStatus.PAID)
    enroll(StudentFactory(school=world.school), world.year)
    theirs = enroll(StudentFactory(school=world.other_school), world.year)
    client = api(world.coordinator)
    assert client.get("/api/v1/enrollments").json()["count"] == 2
    paid = client.get("/api/v1/enrollments?payment_status=paid").json()["results"]
    assert [row["id"] for row in paid] == [mine.pk]
    assert paid[0]["identity_number"].startswith("*")
    assert client.get(f"/api/v1/enrollments/{theirs.pk}").status_code == 404


def test_district_staff_cannot_see_another_districts_enrollments(world, api):
    theirs = enroll(StudentFactory(school=world.other_school), world.year)
    client = api(world.district_staff)
    assert client.get("/api/v1/enrollments").json()["count"] == 0
    assert client.get(f"/api/v1/enrollments/{theirs.pk}").status_code == 404
