"""POST /api/v1/schools/<code>/students/import answers 202 with a job; GET /api/v1/jobs/<id> follows it."""

from django.core.files.uploadedfile import SimpleUploadedFile

from enrollment.models import Student
from tests import files

BACKEND = "enrollment.auth.MembershipBackend"


def test_api_import_answers_202_and_the_job_reports_progress_and_errors(client, world, django_capture_on_commit_callbacks):
    world.coordinator.save()
    client.force_login(world.coordinator, backend=BACKEND)
    data = files.rows(3)
    data[2][4] = 30
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/schools/{world.school.code}/students/import",
                               {"file": SimpleUploadedFile("s.xlsx", files.xlsx(data)), "mode": "partial"})
    assert response.status_code == 202
    job = client.get(f"/api/v1/jobs/{response.json()['id']}").json()
    assert job["state"] == "succeeded" and job["percent"] == 100
    assert job["result"]["created"] == 2 and job["result"]["errors"][0]["row"] == 4
    assert job["error_report"].endswith(f"/api/v1/jobs/{job['id']}/report")
    assert client.get(job["error_report"]).status_code == 200
    assert Student.objects.count() == 2


def test_api_import_without_a_file_is_a_400_in_the_error_format(client, world):
    world.coordinator.save()
    client.force_login(world.coordinator, backend=BACKEND)
    response = client.post(f"/api/v1/schools/{world.school.code}/students/import", {})
    assert response.status_code == 400 and response.json()["field"] == "file"


def test_api_import_for_another_school_is_404(client, world):
    world.other_coordinator.save()
    client.force_login(world.other_coordinator, backend=BACKEND)
    response = client.post(f"/api/v1/schools/{world.school.code}/students/import", {"file": SimpleUploadedFile("s.csv", files.csv_bytes(files.rows(1)))})
    assert response.status_code == 404
    assert not Student.objects.exists()
