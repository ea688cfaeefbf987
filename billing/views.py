"""File downloads (bureau staff, every download logged) and the coordinator's receipt list."""

import logging
from decimal import Decimal
from types import SimpleNamespace

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from billing import selectors, services
from billing.models import DebitBatch, Declaration, RefundExport
from enrollment.api.permissions import is_bureau_staff
from enrollment.exports import CsvWriter, register_export
from enrollment.models import InsuranceYear, Role
from enrollment.querysets import membership_of
from enrollment.services.common import current_insurance_year

logger = logging.getLogger(__name__)


def visible_batches(user):
    """Bank files cover a whole city: city staff of that city (and superusers) only."""
    if user.is_authenticated and user.is_superuser:
        return DebitBatch.objects.all()
    membership = membership_of(user)
    if membership is None or membership.role != Role.CITY_STAFF:
        return DebitBatch.objects.none()
    return DebitBatch.objects.filter(insurance_year__city_id=membership.city_id)


def _send(request, *, file_field, name, **target):
    if not file_field:
        raise Http404
    try:
        handle = file_field.open("rb")
    except FileNotFoundError:
        # The row names a file not (or no longer) in storage: moved into place only after its commit, or lost.
        logger.warning("billing file missing in storage: %s", name)
        raise Http404 from None
    services.billing_file_download_log(user=request.user, file_name=name, **target)
    return FileResponse(handle, as_attachment=True, filename=name)


@require_GET
def batch_file(request, pk):
    batch = get_object_or_404(visible_batches(request.user), pk=pk)
    return _send(request, file_field=batch.file, name=batch.file.name.rsplit("/", 1)[-1], batch=batch)


@require_GET
def declaration_file(request, pk):
    if not is_bureau_staff(request.user):
        raise Http404
    declaration = get_object_or_404(Declaration.objects.visible_to(request.user), pk=pk)
    return _send(request, file_field=declaration.file, name=declaration.file.name.rsplit("/", 1)[-1], declaration=declaration)


@require_GET
def refund_file(request, pk):
    if not is_bureau_staff(request.user):
        raise Http404
    export = get_object_or_404(RefundExport.objects.visible_to(request.user), pk=pk)
    return _send(request, file_field=export.file, name=export.file.name.rsplit("/", 1)[-1], refund_export=export)


def receipts_csv(rows, *, target=None) -> bytes | None:
    """The receipts as CSV: class, name and receipt number are the school's and the tax system's text, so neutralised."""
    writer = CsvWriter(target)
    writer.header([_("班级"), _("姓名"), _("身份证号码"), _("电子票据号"), _("金额"), _("缴费时间")])
    for row in rows:
        writer.row([row.class_name, row.name, row.masked_identity_number, row.receipt_number, f"{row.amount:.2f}",
                    timezone.localtime(row.paid_at).strftime("%Y-%m-%d") if row.paid_at else ""])
    return writer.getvalue() if target is None else None


register_export(
    "coordinator_receipts",
    kind="csv",
    probe=lambda text: receipts_csv([SimpleNamespace(
        class_name=text, name=text, masked_identity_number=text, receipt_number=text, amount=Decimal("400"), paid_at=None,
    )]),
)


@require_GET
def receipts(request):
    """The coordinator's own school's e-receipts (masked numbers); ``?format=csv`` downloads them."""
    membership = membership_of(request.user)
    if membership is None or membership.role != Role.COORDINATOR:
        raise Http404
    school = membership.school
    year_id = request.GET.get("year")
    year = (
        get_object_or_404(InsuranceYear, pk=year_id, city_id=school.office.city_id)
        if year_id and year_id.isdigit()
        else current_insurance_year(city_id=school.office.city_id)
    )
    if year is None:
        raise Http404
    rows = selectors.school_receipts(school=school, insurance_year=year)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="receipts-{school.code}-{year.label}.csv"'
        receipts_csv(rows, target=response)
        return response
    status = selectors.school_billing_status(school=school, insurance_year=year)
    return render(request, "billing/receipts.html", {"school": school, "year": year, "rows": list(rows), "status": status})
