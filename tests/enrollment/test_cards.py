import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook
from PIL import Image

from enrollment.models import CitizenCard, Job, PaymentStatus, PersonalDataAccess
from enrollment.services import cards as service
from enrollment.services.common import Actor
from tests.api.data import enroll
from tests.factories import StudentFactory, login

MODEL_BACKEND = "enrollment.auth.MembershipBackend"


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)},
    }}


def jpeg(size=(358, 441), fmt="JPEG", quality=85) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 180, 160)).save(buffer, fmt, quality=quality)
    return buffer.getvalue()


def with_header_size(data: bytes, width: int, height: int) -> bytes:
    """A small JPEG whose header claims other dimensions, as a decompression bomb does."""
    at = data.index(b"\xff\xc0") + 5
    return data[:at] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[at + 4:]


def upload(data: bytes, name="photo.jpg"):
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


@pytest.fixture
def paid_student(world):
    student = StudentFactory(school=world.school)
    enroll(student, world.year, payment_status=PaymentStatus.PAID)
    return student


def actor(world):
    return Actor(user=world.coordinator, source="portal")


def test_a_good_photo_is_stored_and_the_card_waits_for_export(world, paid_student):
    card = service.card_photo_upload(actor=actor(world), student=paid_student, upload=upload(jpeg()))
    assert card.state == CitizenCard.State.PHOTO_SUBMITTED
    assert paid_student.identity_number not in card.photo.name


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (jpeg(fmt="PNG"), "photo_not_jpeg"),
        (b"\xff\xd8\xff\xe0" + b"not really a picture" * 50, "photo_invalid"),
        (b"GIF89a" + jpeg(), "photo_not_jpeg"),
        (jpeg() + b"\0" * (2 * 1024 * 1024), "photo_too_large"),
        (with_header_size(jpeg(), 30000, 40000), "photo_dimensions"),
        (jpeg(size=(100, 123)), "photo_dimensions"),
        (jpeg(size=(600, 450)), "photo_ratio"),
    ],
    ids=["png-named-jpg", "garbage-after-jpeg-magic", "gif", "oversized", "bomb-dimensions", "too-small", "landscape"],
)
def test_bad_photos_are_refused_and_nothing_is_stored(world, paid_student, data, code):
    with pytest.raises(ValidationError) as caught:
        service.card_photo_upload(actor=actor(world), student=paid_student, upload=upload(data))
    assert caught.value.code == code
    assert paid_student.name in caught.value.messages[0]
    assert not CitizenCard.objects.exists()


def test_students_who_have_not_paid_cannot_get_a_card(world):
    student = StudentFactory(school=world.school)
    enroll(student, world.year)
    with pytest.raises(ValidationError) as caught:
        service.card_photo_upload(actor=actor(world), student=student, upload=upload(jpeg()))
    assert caught.value.code == "not_paid"


def zip_of(files: dict[str, bytes]):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return SimpleUploadedFile("photos.zip", buffer.getvalue(), content_type="application/zip")


def test_a_zip_of_photos_named_by_identity_number_is_stored(world, paid_student):
    other = StudentFactory(school=world.school)
    enroll(other, world.year, payment_status=PaymentStatus.FUNDED)
    result = service.card_photos_upload_zip(actor=actor(world), school=world.school, upload=zip_of({
        f"{paid_student.identity_number}.jpg": jpeg(), f"class5/{other.identity_number}.JPG": jpeg(),
    }))
    assert (result.stored, result.errors) == (2, [])
    assert CitizenCard.objects.filter(state=CitizenCard.State.PHOTO_SUBMITTED).count() == 2


def test_a_zip_with_one_bad_file_stores_nothing_and_names_the_file(world, paid_student):
    stranger = StudentFactory(school=world.other_school)
    result = service.card_photos_upload_zip(actor=actor(world), school=world.school, upload=zip_of({
        f"{paid_student.identity_number}.jpg": jpeg(),
        f"{stranger.identity_number}.jpg": jpeg(),
        "readme.txt": b"hello",
    }))
    assert result.stored == 0
    assert len(result.errors) == 2
    assert any(stranger.identity_number in e and "本校没有" in e for e in result.errors)
    assert any("readme.txt" in e for e in result.errors)
    assert not CitizenCard.objects.exists()


def test_the_photo_package_holds_the_list_and_photos_named_by_identity_number(world, paid_student, django_capture_on_commit_callbacks):
    service.card_photo_upload(actor=actor(world), student=paid_student, upload=upload(jpeg()))
    other_school_student = StudentFactory(school=world.other_school)
    enroll(other_school_student, world.year, payment_status=PaymentStatus.PAID)
    service.card_photo_upload(actor=actor(world), student=other_school_student, upload=upload(jpeg()))
    with django_capture_on_commit_callbacks(execute=True):
        job = service.cards_export_request(actor=Actor(user=world.district_staff, source="admin"))
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.result == {"cards": 1}
    with job.output_file.open("rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    assert sorted(archive.namelist()) == ["list.xlsx", f"photos/{paid_student.identity_number}.jpg"]
    sheet = load_workbook(io.BytesIO(archive.read("list.xlsx")), read_only=True).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows[0][1] == paid_student.name and rows[0][3] == paid_student.identity_number
    states = dict(CitizenCard.objects.values_list("student_id", "state"))
    assert states == {paid_student.pk: CitizenCard.State.SENT, other_school_student.pk: CitizenCard.State.PHOTO_SUBMITTED}
    assert PersonalDataAccess.objects.get().action == "card_photo_export"
    # A redelivered task finds the job claimed and leaves it alone.
    assert service.cards_export_package(job_id=job.pk).output_file.name == job.output_file.name


def test_a_sent_photo_cannot_be_replaced(world, paid_student):
    card = service.card_photo_upload(actor=actor(world), student=paid_student, upload=upload(jpeg()))
    CitizenCard.objects.filter(pk=card.pk).update(state=CitizenCard.State.SENT)
    with pytest.raises(ValidationError) as caught:
        service.card_photo_upload(actor=actor(world), student=paid_student, upload=upload(jpeg()))
    assert caught.value.code == "card_sent"


def test_ready_then_picked_up_marks_the_student_as_holding_a_card(world, paid_student):
    card = service.card_photo_upload(actor=actor(world), student=paid_student, upload=upload(jpeg()))
    with pytest.raises(ValidationError):
        service.card_mark_ready(actor=actor(world), card=card)
    CitizenCard.objects.filter(pk=card.pk).update(state=CitizenCard.State.SENT)
    service.card_mark_ready(actor=Actor(user=world.district_staff, source="admin"), card=card)
    card = service.card_mark_picked_up(actor=actor(world), card=card)
    assert card.state == CitizenCard.State.PICKED_UP and card.picked_up_on is not None
    paid_student.refresh_from_db()
    assert paid_student.has_citizen_card




def test_portal_lists_students_needing_a_card_and_uploads_a_photo(client, world, paid_student):
    StudentFactory(school=world.school)  # not paid: not listed
    login(client, world.coordinator)
    response = client.get("/cards/")
    assert response.status_code == 200
    assert [s.pk for s, _card in response.context["rows"]] == [paid_student.pk]
    response = client.post(f"/cards/students/{paid_student.pk}/photo/", {"photo": upload(jpeg())})
    assert response.status_code == 302
    card = CitizenCard.objects.get()
    photo = client.get(f"/cards/{card.pk}/photo.jpg")
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"


def test_portal_shows_the_reason_a_disguised_file_is_refused(client, world, paid_student):
    login(client, world.coordinator)
    response = client.post(f"/cards/students/{paid_student.pk}/photo/", {"photo": upload(jpeg(fmt="PNG"))}, follow=True)
    assert "JPEG" in response.content.decode()
    assert not CitizenCard.objects.exists()


def test_photos_are_served_only_within_scope(client, world, paid_student):
    card = service.card_photo_upload(actor=actor(world), student=paid_student, upload=upload(jpeg()))
    for user, expected in [(world.other_coordinator, 404), (world.other_district_staff, 404), (world.district_staff, 200)]:
        login(client, user)
        assert client.get(f"/cards/{card.pk}/photo.jpg").status_code == expected
    login(client, world.other_coordinator)
    assert client.post(f"/cards/students/{paid_student.pk}/photo/", {"photo": upload(jpeg())}).status_code == 404
