"""Billing reads for the portal, the admin and the API."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from billing.models import DebitInstruction, Declaration, Refund
from enrollment import identity
from enrollment.models import (
    CollectionRoute,
    ConfirmationLine,
    InsuranceYear,
    Roster,
    RosterConfirmation,
    RosterState,
    School,
    SchoolAccount,
)
from enrollment.todos import Todo


def account_blocking_reason(*, school: School) -> str:
    """Why the school cannot be debited, or "" when it has a usable account."""
    accounts = SchoolAccount.objects.filter(school=school, active=True).select_related("bank")
    account = accounts.first()
    if account is None:
        return _("学校未登记有效的扣费账户。")
    if account.agreement_signed_on is None:
        return _("学校扣费账户（%(bank)s）尚未签订扣款协议。") % {"bank": account.bank.name}
    if not account.bank.allowed_in.filter(pk=school.office.city_id).exists():
        return _("学校开户银行%(bank)s不在本市允许划扣的银行名单内。") % {"bank": account.bank.name}
    return ""


def usable_account_exists(school_ref="roster__school"):
    """Subquery: the school (reached through ``school_ref``) has an account the bank may debit."""
    return Exists(
        SchoolAccount.objects.filter(
            school=OuterRef(school_ref), active=True, agreement_signed_on__isnull=False,
            bank__allowed_in=OuterRef(f"{school_ref}__office__city"),
        )
    )


def unbillable_confirmations(*, insurance_year: InsuranceYear | None = None):
    """Live confirmed bank-debit rosters with no instruction because the school has no usable account."""
    qs = RosterConfirmation.objects.filter(
        reopened_at__isnull=True,
        supplementary=False,
        roster__state=RosterState.CONFIRMED,
        roster__insurance_year__collection_route=CollectionRoute.BANK_DEBIT,
    ).exclude(debit_instructions__kind=DebitInstruction.Kind.ROSTER, debit_instructions__state__in=[
        s for s in DebitInstruction.State.values if s != DebitInstruction.State.CANCELLED
    ])
    if insurance_year is not None:
        qs = qs.filter(roster__insurance_year=insurance_year)
    return qs.annotate(has_account=usable_account_exists()).filter(has_account=False).select_related(
        "roster__school__office", "roster__insurance_year"
    )


@dataclass
class SchoolBillingStatus:
    route: str
    roster_state: str | None
    blocking_reason: str = ""
    instructions: list[dict] = field(default_factory=list)
    declaration: dict | None = None
    # Late students' supplementary declarations, after the first one.
    supplementary_declarations: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    refunds: list[dict] = field(default_factory=list)
    flagged: bool = False


def school_billing_status(*, school: School, insurance_year: InsuranceYear) -> SchoolBillingStatus:
    """What the coordinator sees about the school's payment: where the charge is, what failed, what blocks it."""
    roster = Roster.objects.filter(school=school, insurance_year=insurance_year).first()
    status = SchoolBillingStatus(route=insurance_year.collection_route, roster_state=roster.state if roster else None)
    if roster is None or roster.state == RosterState.OPEN:
        status.blocking_reason = _("参保名单尚未确认，确认后方可扣费或申报。")
        return status
    if insurance_year.fee_provisional:
        status.blocking_reason = _("%(year)s缴费标准为暂定标准，待正式标准公布后再扣费或申报。") % {"year": insurance_year.label}
    if insurance_year.collection_route == CollectionRoute.BANK_DEBIT:
        for instruction in DebitInstruction.objects.filter(school=school, insurance_year=insurance_year).select_related("batch").order_by("created_at"):
            row = {
                "reference": instruction.reference, "kind": instruction.kind, "state": instruction.state,
                "state_display": instruction.get_state_display(), "kind_display": instruction.get_kind_display(),
                "head_count": instruction.head_count,
                "amount": instruction.amount, "tries": instruction.tries, "last_failure": instruction.last_failure,
                "batch": instruction.batch.reference if instruction.batch else "",
            }
            status.instructions.append(row)
            if instruction.last_failure and instruction.state != DebitInstruction.State.SUCCEEDED:
                status.failures.append(row)
            status.flagged |= instruction.state == DebitInstruction.State.FLAGGED
        if not status.blocking_reason and roster.state == RosterState.CONFIRMED and not status.instructions:
            status.blocking_reason = account_blocking_reason(school=school)
        if status.flagged:
            status.blocking_reason = status.blocking_reason or _("多次扣款失败，请核对账户余额或联系经办机构。")
    else:
        declarations = Declaration.objects.filter(school=school, insurance_year=insurance_year).exclude(
            state=Declaration.State.CANCELLED
        ).order_by("created_at", "pk")
        for declaration in declarations:
            row = {
                "reference": declaration.reference, "state": declaration.state,
                "state_display": declaration.get_state_display(), "head_count": declaration.head_count,
                "amount": declaration.amount, "payment_method": declaration.payment_method,
                "paid_at": declaration.paid_at, "receipted_count": declaration.receipted_count,
            }
            if declaration.supplementary:
                status.supplementary_declarations.append(row)
            else:
                status.declaration = row
    status.refunds = [
        {"reference": r.reference, "amount": r.amount, "state": r.state, "state_display": r.get_state_display(), "reason": r.reason}
        for r in Refund.objects.filter(school=school, enrollment__insurance_year=insurance_year)
    ]
    return status


@dataclass(frozen=True)
class ReceiptListRow:
    class_name: str
    name: str
    masked_identity_number: str
    receipt_number: str
    amount: Decimal
    paid_at: object


def school_receipts(*, school: School, insurance_year: InsuranceYear):
    """The school's students with an e-receipt, identity numbers masked."""
    rows = (
        ConfirmationLine.objects.filter(
            confirmation__roster__school=school, confirmation__roster__insurance_year=insurance_year,
            confirmation__reopened_at__isnull=True, fee__gt=0,
        )
        .filter(~Q(enrollment__receipt_number=""))
        .order_by("enrollment__student__class_name", "enrollment__student__name")
        .values_list("enrollment__student__class_name", "enrollment__student__name", "enrollment__student__identity_number",
                     "enrollment__receipt_number", "fee", "enrollment__paid_at")
    )
    for class_name, name, number, receipt, fee, paid_at in rows.iterator(chunk_size=2000):
        yield ReceiptListRow(class_name, name, identity.mask(number), receipt, fee, paid_at)


def school_todos(*, school: School, year: InsuranceYear | None, today) -> list:
    """The school's debits that failed and are not yet paid, for the portal's to-do list."""
    if year is None:
        return []
    failing = DebitInstruction.objects.filter(school=school, insurance_year=year).exclude(
        state__in=[DebitInstruction.State.SUCCEEDED, DebitInstruction.State.CANCELLED]
    ).filter(Q(state=DebitInstruction.State.FLAGGED) | ~Q(last_failure=""))
    count = failing.count()
    if not count:
        return []
    return [Todo(_("%(count)d笔扣款失败，请核对扣费账户余额后查看扣款情况。") % {"count": count}, reverse("billing:receipts"))]
