"""Objects of school A (Yuexiu) for the access matrix: one of each kind a URL can point at.

Written through the services where they exist (students, enrollments, roster
confirmation, coordinator registry, notices, bank-debit batches); the rest
(files, cards with a photo, jobs, declarations, graduate records) are plain rows,
since the matrix tests who may reach them, not how they came about.
"""

import datetime
import io
from decimal import Decimal
from types import SimpleNamespace

from django.core.files.base import ContentFile
from django.test import TestCase
from django.utils import timezone
from PIL import Image

from billing import services as billing_services
from billing.models import (
    BillingFileDownload,
    DebitBatch,
    DebitInstruction,
    Declaration,
    ReceiptImport,
    Refund,
    RefundExport,
)
from coordinators.models import Handout
from coordinators.services.notices import publish_notice
from coordinators.services.registry import coordinator_register
from enrollment.models import (
    AuditEvent,
    ChargeCorrection,
    CitizenCard,
    Enrollment,
    Exemption,
    ExemptionCategory,
    Job,
    OtherChannelEnrollment,
    OtherInsurance,
    PersonalDataAccess,
    Roster,
    RosterConfirmation,
    Transfer,
)
from enrollment.services.common import Actor, roster_get_or_create
from enrollment.services.enrollments import enrollments_refresh_bulk
from enrollment.services.rosters import roster_confirm
from enrollment.services.students import student_create
from graduates.models import DeregistrationRun, FeedSource, GraduateFeed, GraduateRecord
from tests.factories import BankFactory, SchoolAccountFactory, StudentFactory, identity_number

# Text that only school A's objects carry: a page shown to someone outside school A must not contain it.
MARKER_NAME = "越秀甲生"


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (358, 441), (200, 200, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def build(world) -> SimpleNamespace:
    """School A's objects; ``world`` is the conftest world (schools, year, personas' users)."""
    school, year = world.school, world.year
    portal = Actor(user=world.coordinator, source="portal")
    staff = Actor(user=world.district_staff, source="admin")
    number = identity_number(sex="M")
    student = student_create(actor=portal, school=school, data={
        "identity_number": number, "name": MARKER_NAME, "grade": 5, "class_name": "5班",
        "sex": "M", "birth_date": datetime.date(2010, 3, 15),
    })
    second = StudentFactory(school=school, name=f"{MARKER_NAME}乙")
    roster = roster_get_or_create(school=school, insurance_year=year)
    enrollments_refresh_bulk(actor=portal, roster=roster, student_ids=[second.pk])
    enrollment = Enrollment.objects.get(student=student, insurance_year=year)

    bank = BankFactory(code="ICBC-AM")
    bank.allowed_in.add(world.city)
    SchoolAccountFactory(school=school, bank=bank)
    confirmation = roster_confirm(actor=portal, roster=roster, checked=True)
    # Batch files are moved into place when their rows commit: run those callbacks here.
    with TestCase.captureOnCommitCallbacks(execute=True):
        billing_services.batches_generate(insurance_year=year, actor=staff)
    batch = DebitBatch.objects.get(insurance_year=year)
    instruction = DebitInstruction.objects.get(school=school)
    declaration = Declaration.objects.create(
        reference="DECL-A-1", insurance_year=year, roster=roster, confirmation=confirmation, school=school,
        head_count=2, amount=Decimal("400.00"),
    )
    declaration.file.save("decl-a.csv", ContentFile(b"a,b\n"), save=True)
    refund_export = RefundExport.objects.create(reference="REF-A-1", school=school)
    refund_export.file.save("refund-a.csv", ContentFile(b"a,b\n"), save=True)
    refund = Refund.objects.create(reference="RF-A-1", enrollment=enrollment, school=school, amount=Decimal("200.00"),
                                   reason="毕业", export=refund_export)
    download = BillingFileDownload.objects.create(user=world.city_staff, file_name="x.csv", batch=batch)
    receipt_import = ReceiptImport.objects.create(insurance_year=year, file_name="r.csv", checksum="0" * 64, receipt_count=0,
                                 imported_by=world.city_staff)
    correction = ChargeCorrection.objects.create(enrollment=enrollment, amount=Decimal("-200.00"),
                                                 reason=ChargeCorrection.Reason.values[0])

    card = CitizenCard.objects.create(
        student=second, state=CitizenCard.State.PHOTO_SUBMITTED, photo_uploaded_at=timezone.now(),
    )
    card.photo.save("card-a.jpg", ContentFile(_jpeg()), save=True)

    import_job = Job.objects.create(kind=Job.Kind.STUDENT_IMPORT, state=Job.State.SUCCEEDED, school=school,
                                    created_by=world.coordinator, result={"errors": []})
    import_job.output_file.save("errors-a.xlsx", ContentFile(b"PK"), save=True)
    documents_job = Job.objects.create(
        kind=Job.Kind.DOCUMENTS, state=Job.State.SUCCEEDED, school=school, insurance_year=year,
        created_by=world.coordinator, expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    documents_job.output_file.save("rights-a.pdf", ContentFile(b"%PDF-1.4\n"), save=True)
    # Report and photo-package jobs belong to the staff member who started them.
    report_job = Job.objects.create(kind=Job.Kind.REPORT, state=Job.State.SUCCEEDED, created_by=world.district_staff,
                                    insurance_year=year, expires_at=timezone.now() + datetime.timedelta(days=1))
    report_job.output_file.save("report-a.xlsx", ContentFile(b"PK"), save=True)

    registry_entry = coordinator_register(actor=portal, school=school, user=world.coordinator, data={
        "name": "越秀协管", "gender": "F", "department": "教务处", "post": "干事", "work_phone": "020-83000000",
        "mobile": "13800000000",
    })
    notice = publish_notice(actor=staff, title="越秀第一中学专项通知", body="请于月底前确认名单。", school=school)
    handout = Handout.objects.create(school=school, insurance_year=year, class_name="5班",
                                     handed_out_on=timezone.localdate(), recorded_by=world.coordinator)

    category, _created = ExemptionCategory.objects.get_or_create(city=world.city, code="dibao", defaults={"name": "低保"})
    # Keyed by identity number, not by school: every staff member of the city reads the register.
    exemption = Exemption.objects.create(identity_number=identity_number(), name="豁免登记人", category=category,
                                         source="civil_affairs", valid_from=datetime.date(2020, 1, 1))

    feed = GraduateFeed.objects.create(source=FeedSource.values[0], received_via=GraduateFeed.Via.API, checksum="1" * 64,
                                       received_by=world.city_staff, record_count=1, city=world.city)
    graduate = GraduateRecord.objects.create(
        feed=feed, row_number=1, identity_number=number, name=MARKER_NAME, school_code=school.code,
        graduation_date=datetime.date(2027, 6, 30), school=school, student=student,
        outcome=GraduateRecord.Outcome.NAME_MISMATCH,
    )
    run = DeregistrationRun.objects.create(city=world.city)
    access = PersonalDataAccess.objects.create(user=world.coordinator, action=PersonalDataAccess.Action.EXPORT_ROSTER_FULL, target=school.code)
    # Changes during the year: a transfer school B asked for (named without the marker: school B sees its name),
    # a student insured elsewhere and one sent to the village committee.
    moving = StudentFactory(school=school, name="转学学生")
    transfer = Transfer.objects.create(student=moving, insurance_year=year, from_school=school, to_school=world.other_school,
                                       requested_by=world.other_coordinator)
    insured = StudentFactory(school=school, name=f"{MARKER_NAME}丙")
    other_insurance = OtherInsurance.objects.create(
        enrollment=Enrollment.objects.create(student=insured, insurance_year=year, school=school, channel="insured_elsewhere",
                                             payment_status="not_charged"),
        scheme="employee", place="广州市", valid_until=year.coverage_end)
    rural = StudentFactory(school=school, name=f"{MARKER_NAME}丁", hukou_rural=True)
    follow_up = OtherChannelEnrollment.objects.create(
        enrollment=Enrollment.objects.create(student=rural, insurance_year=year, school=school, channel="village_committee",
                                             payment_status="not_charged"),
        enrolled_on=datetime.date(2026, 9, 1), place="某村民委员会")
    return SimpleNamespace(
        school=school, year=year, student=student, second=second, enrollment=enrollment, roster=roster,
        confirmation=confirmation, unbillable=RosterConfirmation.objects.filter(pk=confirmation.pk).first(),
        batch=batch, instruction=instruction, declaration=declaration, refund_export=refund_export, refund=refund,
        correction=correction, card=card, import_job=import_job, documents_job=documents_job, report_job=report_job,
        registry_entry=registry_entry, notice=notice, handout=handout, exemption=exemption, category=category,
        feed=feed, graduate=graduate, download=download, receipt_import=receipt_import, run=run, access=access, bank=bank, identity_number=number,
        audit=AuditEvent.objects.filter(school_id=school.pk).first(), roster_row=Roster.objects.get(pk=roster.pk),
        transfer=transfer, other_insurance=other_insurance, follow_up=follow_up,
    )
