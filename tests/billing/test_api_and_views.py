"""API, downloads and bureau pages: scoping, logging of every file download, masked receipt lists."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from billing import services
from billing.models import BillingFileDownload, DebitBatch, DebitInstruction, Declaration
from enrollment.models import Job
from enrollment.services.common import Actor
from tests.billing.conftest import confirm_roster, make_account
from tests.factories import SchoolFactory, login

pytestmark = pytest.mark.django_db
ACTOR = Actor(user=None, source="job", label="test")




def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def generated(debit_world):
    services.batches_generate(insurance_year=debit_world.year, actor=ACTOR)
    debit_world.batch = DebitBatch.objects.get()
    return debit_world


def test_city_staff_list_batches_and_coordinators_cannot(generated):
    assert api(generated.city_staff).get("/api/v1/debit-batches/").json()["count"] == 1
    assert api(generated.coordinator).get("/api/v1/debit-batches/").status_code == 403


def test_coordinator_sees_only_own_school_instructions(generated):
    rows = api(generated.coordinator).get("/api/v1/debit-instructions/").json()["results"]
    assert [r["school"] for r in rows] == [generated.school.code]
    other = DebitInstruction.objects.get(school=generated.other_school)
    assert api(generated.coordinator).get(f"/api/v1/debit-instructions/{other.pk}/").status_code == 404


def test_district_staff_see_only_their_districts_instructions(generated):
    rows = api(generated.district_staff).get("/api/v1/debit-instructions/").json()["results"]
    assert {r["school"] for r in rows} == {generated.school.code}


def test_payment_is_recorded_through_the_api_and_refused_twice(tax_world):
    services.declarations_generate(insurance_year=tax_world.year, actor=ACTOR)
    declaration = Declaration.objects.get()
    url = f"/api/v1/declarations/{declaration.pk}/payment"
    assert api(tax_world.coordinator).post(url, {"method": "transfer"}, format="json").status_code == 403
    assert api(tax_world.other_district_staff).post(url, {"method": "transfer"}, format="json").status_code == 404
    response = api(tax_world.district_staff).post(url, {"method": "transfer"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "paid"
    again = api(tax_world.district_staff).post(url, {"method": "transfer"}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "already_paid"
    bad = api(tax_world.district_staff).post(url, {"method": "cash"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "method"


def test_coordinator_sees_own_declaration_only(tax_world):
    services.declarations_generate(insurance_year=tax_world.year, actor=ACTOR)
    assert api(tax_world.coordinator).get("/api/v1/declarations/").json()["count"] == 1
    assert api(tax_world.other_coordinator).get("/api/v1/declarations/").json()["count"] == 0


# Files are moved into place when their rows commit: this test lets them commit.
@pytest.mark.django_db(transaction=True)
def test_batch_file_download_is_for_city_staff_and_logged(generated, client):
    url = reverse("billing:batch-file", args=[generated.batch.pk])
    login(client, generated.coordinator)
    assert client.get(url).status_code == 404
    login(client, generated.district_staff)
    assert client.get(url).status_code == 404
    login(client, generated.city_staff)
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"H|")
    log = BillingFileDownload.objects.get()
    assert (log.user, log.batch) == (generated.city_staff, generated.batch)


# Files are moved into place when their rows commit: this test lets them commit.
@pytest.mark.django_db(transaction=True)
def test_declaration_file_download_is_scoped_and_logged(tax_world, client):
    services.declarations_generate(insurance_year=tax_world.year, actor=ACTOR)
    url = reverse("billing:declaration-file", args=[Declaration.objects.get().pk])
    login(client, tax_world.coordinator)
    assert client.get(url).status_code == 404
    login(client, tax_world.other_district_staff)
    assert client.get(url).status_code == 404
    login(client, tax_world.district_staff)
    assert client.get(url).status_code == 200
    assert BillingFileDownload.objects.filter(declaration__isnull=False).count() == 1


def test_coordinator_downloads_own_receipt_list_with_masked_numbers(tax_world, client):
    from tests.billing.test_declarations import paying, receipt_file

    services.declarations_generate(insurance_year=tax_world.year, actor=ACTOR)
    services.declaration_record_payment(declaration=Declaration.objects.get(), method="transfer", actor=ACTOR)
    student = paying(tax_world)[0].student
    services.receipts_import(insurance_year=tax_world.year, content=receipt_file([(student.identity_number, "PJ77", "140")]),
                             file_name="r.xlsx", actor=ACTOR)
    login(client, tax_world.coordinator)
    text = client.get(reverse("billing:receipts"), {"format": "csv", "year": tax_world.year.pk}).content.decode("utf-8-sig")
    assert "PJ77" in text and student.identity_number not in text and student.identity_number[-4:] in text
    login(client, tax_world.other_coordinator)
    other = client.get(reverse("billing:receipts"), {"format": "csv", "year": tax_world.year.pk}).content.decode("utf-8-sig")
    assert "PJ77" not in other
    login(client, tax_world.city_staff)
    assert client.get(reverse("billing:receipts")).status_code == 404


def test_staff_start_generation_from_the_admin_and_the_job_shows_the_result(debit_world, client, django_capture_on_commit_callbacks):
    admin_user = debit_world.city_staff
    admin_user.is_superuser = True
    admin_user.save()
    login(client, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:billing_debitbatch_generate"), {"insurance_year": debit_world.year.pk})
    assert response.status_code == 302
    job = Job.objects.get(kind=Job.Kind.BATCH_GENERATION)
    assert job.state == Job.State.SUCCEEDED and job.created_by == admin_user and len(job.result["batches"]) == 1
    assert client.get(reverse("admin:billing_debitbatch_changelist")).status_code == 200
    batch = DebitBatch.objects.get()
    assert client.get(reverse("admin:billing_debitbatch_change", args=[batch.pk])).status_code == 200
    assert client.get(reverse("admin:billing_debitbatch_import", args=[batch.pk])).status_code == 200


def test_admin_lists_schools_that_cannot_be_debited(world, bank, client):
    school = SchoolFactory(code="GZ-YX-004", office=world.office)
    make_account(school, bank, signed=False)
    confirm_roster(school, world.year, world.coordinator, paying=1)
    login(client, world.district_staff)
    world.district_staff.is_superuser = True
    world.district_staff.save()
    page = client.get(reverse("admin:billing_unbillableconfirmation_changelist")).content.decode()
    assert school.name in page and "尚未签订扣款协议" in page


def test_staff_start_declarations_from_the_admin(tax_world, client, django_capture_on_commit_callbacks):
    tax_world.city_staff.is_superuser = True
    tax_world.city_staff.save()
    login(client, tax_world.city_staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:billing_declaration_generate"), {"insurance_year": tax_world.year.pk})
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.state == Job.State.SUCCEEDED and job.progress == job.total == 1
    declaration = Declaration.objects.get()
    assert declaration.file and declaration.head_count == 3
    assert client.get(reverse("admin:billing_declaration_changelist")).status_code == 200
    assert client.get(reverse("admin:billing_declaration_receipts")).status_code == 200


def test_bank_debit_generation_is_refused_for_a_tax_year(tax_world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.debit_batches_start(insurance_year=tax_world.year, user=tax_world.city_staff)
    assert not Job.objects.exists()


def test_nightly_schedule_is_installed_once_however_often_the_migration_runs():
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("billing.migrations.0003_nightly_schedule")
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    task = PeriodicTask.objects.get(task="billing.tasks.nightly_billing")
    assert task.enabled and task.crontab.hour == "2"


def test_nightly_run_bills_open_years(debit_world, django_capture_on_commit_callbacks):
    from billing.tasks import nightly_billing

    with django_capture_on_commit_callbacks(execute=True):
        nightly_billing.delay()
    assert DebitBatch.objects.filter(state=DebitBatch.State.READY).count() == 1
    assert Job.objects.get().state == Job.State.SUCCEEDED  # the nightly run is a Job like the others


def test_city_staff_import_a_result_file_from_the_admin(generated, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.billing.helpers import answer

    login(client, generated.city_staff)
    url = reverse("admin:billing_debitbatch_import", args=[generated.batch.pk])
    upload = SimpleUploadedFile("result.txt", answer(generated.batch))
    response = client.post(url, {"file": upload})
    assert response.status_code == 302
    generated.batch.refresh_from_db()
    assert generated.batch.state == DebitBatch.State.RESULTS_IMPORTED


def test_district_staff_cannot_import_bank_results(generated, client):
    login(client, generated.district_staff)
    url = reverse("admin:billing_debitbatch_import", args=[generated.batch.pk])
    client.post(url, {"file": b""})
    generated.batch.refresh_from_db()
    assert generated.batch.state == DebitBatch.State.READY
