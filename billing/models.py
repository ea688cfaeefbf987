"""Money movements: bank-debit instructions and batches (R10), tax declarations (R11), refunds.

Invariants that protect against charging twice live in the database:
- a roster has at most one live roster instruction and at most one live declaration;
- an instruction has at most one pending attempt, i.e. it sits in at most one live batch;
- a correction becomes at most one adjustment instruction or one refund;
- a result or receipt file is imported at most once (by its SHA-256).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enrollment.models import (
    Bank,
    ChargeCorrection,
    Enrollment,
    InsuranceYear,
    Roster,
    RosterConfirmation,
    School,
    SchoolAccount,
    money_field,
)
from enrollment.querysets import ScopedQuerySet


class DebitBatch(models.Model):
    """One file sent to one bank: the instructions gathered in one run, with control totals."""

    class State(models.TextChoices):
        GENERATING = "generating", _("生成中")
        READY = "ready", _("文件已生成")
        RESULTS_IMPORTED = "results_imported", _("已导入结果")
        FAILED = "failed", _("生成失败")

    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="batches", verbose_name=_("银行"))
    insurance_year = models.ForeignKey(InsuranceYear, on_delete=models.PROTECT, related_name="debit_batches", verbose_name=_("参保年度"))
    reference = models.CharField(_("批次号"), max_length=40, unique=True)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.GENERATING)
    file_format = models.CharField(_("文件格式"), max_length=30)
    line_count = models.PositiveIntegerField(_("笔数"), default=0)
    total_amount = money_field(_("总金额"), default=0)
    checksum = models.CharField(_("文件校验值"), max_length=64, blank=True)
    file = models.FileField(_("扣款文件"), upload_to="bank-batches/%Y/", blank=True)
    error = models.TextField(_("错误"), blank=True)
    created_at = models.DateTimeField(_("生成时间"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("发起人"))
    results_imported_at = models.DateTimeField(_("结果导入时间"), null=True, blank=True)
    result_checksum = models.CharField(_("结果文件校验值"), max_length=64, blank=True)
    succeeded_count = models.PositiveIntegerField(_("成功笔数"), default=0)
    failed_count = models.PositiveIntegerField(_("失败笔数"), default=0)

    class Meta:
        verbose_name = _("扣款批次")
        verbose_name_plural = _("扣款批次")
        ordering = ["-created_at"]
        constraints = [
            # The same result file cannot settle a batch twice.
            models.UniqueConstraint(fields=["result_checksum"], condition=~Q(result_checksum=""), name="batch_result_imported_once"),
        ]

    def __str__(self):
        return self.reference


class DebitInstruction(models.Model):
    """What one school owes for one confirmation (or one correction): count x fee = amount."""

    class Kind(models.TextChoices):
        ROSTER = "roster", _("名单扣费")
        SUPPLEMENTARY = "supplementary", _("补充确认扣费")
        ADJUSTMENT = "adjustment", _("补扣")

    class State(models.TextChoices):
        WAITING_STANDARD = "waiting_standard", _("待正式缴费标准")
        OPEN = "open", _("待扣款")
        IN_BATCH = "in_batch", _("扣款中")
        SUCCEEDED = "succeeded", _("扣款成功")
        FLAGGED = "flagged", _("多次失败待处理")
        CANCELLED = "cancelled", _("已撤销")

    scope_school = "school"

    reference = models.CharField(_("指令号"), max_length=40, unique=True)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.ROSTER)
    insurance_year = models.ForeignKey(InsuranceYear, on_delete=models.PROTECT, related_name="debit_instructions", verbose_name=_("参保年度"))
    roster = models.ForeignKey(Roster, on_delete=models.PROTECT, related_name="debit_instructions", verbose_name=_("参保名单"))
    confirmation = models.ForeignKey(RosterConfirmation, on_delete=models.PROTECT, related_name="debit_instructions", verbose_name=_("缴费确认"))
    correction = models.OneToOneField(
        ChargeCorrection, null=True, blank=True, on_delete=models.PROTECT, related_name="debit_instruction", verbose_name=_("费用调整")
    )
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="debit_instructions", verbose_name=_("学校"))
    account = models.ForeignKey(SchoolAccount, on_delete=models.PROTECT, related_name="debit_instructions", verbose_name=_("扣费账户"))
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="debit_instructions", verbose_name=_("银行"))
    head_count = models.PositiveIntegerField(_("人数"))
    amount = money_field(_("金额"))
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.OPEN)
    batch = models.ForeignKey(DebitBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="instructions", verbose_name=_("当前批次"))
    tries = models.PositiveSmallIntegerField(_("已扣款次数"), default=0)
    last_failure = models.CharField(_("最近失败原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    settled_at = models.DateTimeField(_("扣款成功时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("扣款指令")
        verbose_name_plural = _("扣款指令")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["insurance_year", "bank", "state"])]
        constraints = [
            # A confirmed roster is charged by exactly one live roster instruction: never a second debit.
            models.UniqueConstraint(
                fields=["confirmation"], condition=Q(kind__in=["roster", "supplementary"]) & ~Q(state="cancelled"),
                name="instruction_one_live_per_confirmation",
            ),
            models.UniqueConstraint(
                fields=["roster"], condition=Q(kind="roster") & ~Q(state="cancelled"), name="instruction_one_live_per_roster"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="instruction_amount_positive"),
            models.CheckConstraint(
                condition=Q(kind__in=["roster", "supplementary"], correction__isnull=True) | Q(kind="adjustment", correction__isnull=False),
                name="instruction_adjustment_has_correction",
            ),
            # An instruction inside a batch names it; one outside names none.
            models.CheckConstraint(
                condition=(Q(state="in_batch") & Q(batch__isnull=False)) | ~Q(state="in_batch"), name="instruction_in_batch_has_batch"
            ),
        ]

    def __str__(self):
        return self.reference


class DebitAttempt(models.Model):
    """One try of an instruction inside a batch (one line of the bank file), with the bank's answer."""

    class Result(models.TextChoices):
        PENDING = "pending", _("待返回")
        SUCCEEDED = "succeeded", _("成功")
        FAILED = "failed", _("失败")

    instruction = models.ForeignKey(DebitInstruction, on_delete=models.PROTECT, related_name="attempts", verbose_name=_("扣款指令"))
    batch = models.ForeignKey(DebitBatch, on_delete=models.PROTECT, related_name="attempts", verbose_name=_("扣款批次"))
    line_number = models.PositiveIntegerField(_("行号"))
    amount = money_field(_("金额"))
    result = models.CharField(_("结果"), max_length=20, choices=Result.choices, default=Result.PENDING)
    failure_reason = models.CharField(_("失败原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("扣款明细")
        verbose_name_plural = _("扣款明细")
        ordering = ["batch", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["instruction", "batch"], name="attempt_once_per_batch"),
            models.UniqueConstraint(fields=["batch", "line_number"], name="attempt_unique_line"),
            # An instruction waits for at most one bank answer: it is in at most one live batch.
            models.UniqueConstraint(fields=["instruction"], condition=Q(result="pending"), name="attempt_one_pending_per_instruction"),
        ]

    def __str__(self):
        return f"{self.instruction.reference} · {self.batch.reference} #{self.line_number}"


class RefundExport(models.Model):
    """One refund file for one school: the open refunds gathered at export time, settled from the bank's answer."""

    class State(models.TextChoices):
        EXPORTED = "exported", _("已导出")
        SETTLED = "settled", _("已导入结果")

    scope_school = "school"

    reference = models.CharField(_("退费批次号"), max_length=40, unique=True)
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="refund_exports", verbose_name=_("学校"))
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.EXPORTED)
    line_count = models.PositiveIntegerField(_("笔数"), default=0)
    total_amount = money_field(_("总金额"), default=0)
    checksum = models.CharField(_("文件校验值"), max_length=64, blank=True)
    file = models.FileField(_("退费文件"), upload_to="refund-exports/%Y/", blank=True)
    created_at = models.DateTimeField(_("导出时间"), default=timezone.now)
    result_checksum = models.CharField(_("结果文件校验值"), max_length=64, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("退费文件")
        verbose_name_plural = _("退费文件")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["result_checksum"], condition=~Q(result_checksum=""), name="refund_result_imported_once"),
        ]

    def __str__(self):
        return self.reference


class Refund(models.Model):
    """Money going back to a school for one enrollment: charged and then exempt, graduated or charged twice."""

    class State(models.TextChoices):
        OPEN = "open", _("待退费")
        EXPORTED = "exported", _("已导出")
        SETTLED = "settled", _("已退费")
        FAILED = "failed", _("退费失败")

    scope_school = "school"

    reference = models.CharField(_("退费编号"), max_length=40, unique=True)
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("参保登记"))
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("学校"))
    correction = models.OneToOneField(ChargeCorrection, null=True, blank=True, on_delete=models.PROTECT, related_name="refund", verbose_name=_("费用调整"))
    amount = money_field(_("退费金额"))
    reason = models.CharField(_("原因"), max_length=200)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.OPEN)
    export = models.ForeignKey(RefundExport, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("退费文件"))
    export_reference = models.CharField(_("退费文件批次"), max_length=40, blank=True)
    failure_reason = models.CharField(_("失败原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    settled_at = models.DateTimeField(_("退费时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("退费")
        verbose_name_plural = _("退费")
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self):
        return self.reference


class Declaration(models.Model):
    """A school's declaration to the tax department for one confirmation (Suzhou route)."""

    class State(models.TextChoices):
        DECLARED = "declared", _("已申报")
        PAID = "paid", _("已缴款")
        RECEIPTED = "receipted", _("已出具票据")
        CANCELLED = "cancelled", _("已撤销")

    class PaymentMethod(models.TextChoices):
        TRANSFER = "transfer", _("银行转账")
        ELECTRONIC_DEBIT = "electronic_debit", _("电子扣款")

    scope_school = "school"

    reference = models.CharField(_("申报编号"), max_length=40, unique=True)
    insurance_year = models.ForeignKey(InsuranceYear, on_delete=models.PROTECT, related_name="declarations", verbose_name=_("参保年度"))
    roster = models.ForeignKey(Roster, on_delete=models.PROTECT, related_name="declarations", verbose_name=_("参保名单"))
    confirmation = models.ForeignKey(RosterConfirmation, on_delete=models.PROTECT, related_name="declarations", verbose_name=_("缴费确认"))
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="declarations", verbose_name=_("代办学校"))
    head_count = models.PositiveIntegerField(_("缴费人数"))
    amount = money_field(_("缴费金额"))
    supplementary = models.BooleanField(_("补充申报"), default=False, db_default=False, help_text=_("名单确认后登记的迟到学生的补充确认"))
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.DECLARED)
    file = models.FileField(_("申报文件"), upload_to="declarations/%Y/", blank=True)
    # SHA-256 of the workbook written for this declaration: a rerun rewrites a file that is missing or differs.
    checksum = models.CharField(_("文件校验值"), max_length=64, blank=True)
    payment_method = models.CharField(_("缴款方式"), max_length=20, choices=PaymentMethod.choices, blank=True)
    paid_at = models.DateTimeField(_("缴款时间"), null=True, blank=True)
    receipted_count = models.PositiveIntegerField(_("已出票人数"), default=0)
    created_at = models.DateTimeField(_("申报时间"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("税务申报")
        verbose_name_plural = _("税务申报")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["confirmation"], condition=~Q(state="cancelled"), name="declaration_one_live_per_confirmation"),
            models.UniqueConstraint(
                fields=["roster"], condition=~Q(state="cancelled") & Q(supplementary=False), name="declaration_one_live_per_roster"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["declared", "cancelled"]) | ~Q(payment_method=""), name="declaration_paid_has_method"
            ),
        ]

    def __str__(self):
        return self.reference


class ReceiptImport(models.Model):
    """One e-receipt file from the tax department; its checksum stops a second import."""

    insurance_year = models.ForeignKey(InsuranceYear, on_delete=models.PROTECT, related_name="+", verbose_name=_("参保年度"))
    file_name = models.CharField(_("文件名"), max_length=255)
    checksum = models.CharField(_("文件校验值"), max_length=64, unique=True)
    receipt_count = models.PositiveIntegerField(_("票据数"))
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("导入人"))
    imported_at = models.DateTimeField(_("导入时间"), default=timezone.now)

    class Meta:
        verbose_name = _("电子票据导入")
        verbose_name_plural = _("电子票据导入")
        ordering = ["-imported_at"]

    def __str__(self):
        return f"{self.file_name}（{self.receipt_count}）"


class BillingFileDownload(models.Model):
    """Every download of a bank, refund or tax file (they carry account numbers and personal data)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("用户"))
    at = models.DateTimeField(_("时间"), default=timezone.now)
    batch = models.ForeignKey(DebitBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="downloads")
    declaration = models.ForeignKey(Declaration, null=True, blank=True, on_delete=models.PROTECT, related_name="downloads")
    refund_export = models.ForeignKey(RefundExport, null=True, blank=True, on_delete=models.PROTECT, related_name="downloads")
    file_name = models.CharField(_("文件名"), max_length=255)

    class Meta:
        verbose_name = _("文件下载记录")
        verbose_name_plural = _("文件下载记录")
        ordering = ["-at"]

    def __str__(self):
        return f"{self.file_name} · {timezone.localtime(self.at):%Y-%m-%d %H:%M}"


class UnbillableConfirmation(RosterConfirmation):
    """Live bank-debit confirmations that cannot be debited yet, for bureau staff (admin list)."""

    class Meta:
        proxy = True
        verbose_name = _("无法扣费的学校")
        verbose_name_plural = _("无法扣费的学校")
