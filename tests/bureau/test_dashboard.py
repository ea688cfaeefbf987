import io

import pytest
from openpyxl import load_workbook

from enrollment.models import Job, Roster, RosterState
from tests.api.data import school_with_students
from tests.factories import login

MODEL_BACKEND = "enrollment.auth.MembershipBackend"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def data(world):
    school_with_students(world.school, world.year, paid=3, unpaid=1)
    school_with_students(world.other_school, world.year, paid=1, unpaid=1)
    Roster.objects.filter(school=world.school).update(state=RosterState.CONFIRMED)
    return world




def page(client, user, url):
    login(client, user)
    return client.get(url)


def test_district_staff_see_only_their_districts_schools(client, data):
    response = page(client, data.district_staff, "/bureau/")
    assert response.status_code == 200
    text = response.content.decode()
    assert data.school.name in text and data.other_school.name not in text
    assert [r.code for r in response.context["rows"]] == [data.school.code]
    assert response.context["totals"].rate == 75


def test_city_staff_see_every_district_with_rates(client, data):
    response = page(client, data.city_staff, "/bureau/")
    districts = {d.district: d.rate for d in response.context["districts"]}
    assert districts == {"越秀区": 75, "海珠区": 50}
    assert response.context["confirmed_rosters"] == 1
    assert "<svg" in response.content.decode()


def test_coordinators_cannot_open_the_dashboard(client, data):
    assert page(client, data.coordinator, "/bureau/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, data):
    assert client.get("/bureau/").status_code == 302


def test_drill_down_to_a_school_of_another_district_is_404(client, data):
    url = f"/bureau/schools/{data.other_school.pk}/?year={data.year.pk}"
    assert page(client, data.district_staff, url).status_code == 404
    response = page(client, data.other_district_staff, url)
    assert response.status_code == 200
    assert response.context["row"].settled == 1


def test_year_end_report_downloads_from_the_dashboard(client, data, django_capture_on_commit_callbacks):
    login(client, data.district_staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/bureau/reports/year-end/", {"year": data.year.pk})
    job = Job.objects.get(kind=Job.Kind.REPORT)
    assert response.status_code == 302 and response.url == f"/bureau/jobs/{job.pk}/"
    download = client.get(f"/bureau/jobs/{job.pk}/download/")
    assert download.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True)
    assert [row[0] for row in workbook["学校参保率"].iter_rows(min_row=2, values_only=True)] == [data.school.code]
    # Another staff member cannot fetch it.
    login(client, data.city_staff)
    assert client.get(f"/bureau/jobs/{job.pk}/download/").status_code == 404


def test_billing_figures_are_read_from_the_billing_tables(client, data):
    billing = page(client, data.city_staff, "/bureau/").context["billing"]
    assert billing.available
    assert (billing.batches, billing.failures, billing.declarations) == (0, 0, 0)


def test_an_extra_debit_still_being_collected_is_shown_apart_from_what_was_paid(client, data):
    from decimal import Decimal

    from enrollment.models import ChargeCorrection, Enrollment, PaymentStatus

    paid = Enrollment.objects.filter(school=data.school, payment_status=PaymentStatus.PAID)
    before = page(client, data.city_staff, "/bureau/").context["collected"]
    first = paid.first()
    # A higher final standard: the paid enrollment carries the new fee, the difference is still being debited.
    Enrollment.objects.filter(pk=first.pk).update(fee_due=first.fee_due + Decimal("50.00"))
    ChargeCorrection.objects.create(enrollment=first, amount=Decimal("50.00"), reason=ChargeCorrection.Reason.FEE_STANDARD)

    response = page(client, data.city_staff, "/bureau/")

    assert response.context["collected"] == before
    assert response.context["in_progress"] == Decimal("50.00")
    assert "补扣进行中" in response.content.decode()
