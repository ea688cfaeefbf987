"""The coordinator registry (R4), bureau notices (R18), reminders (R15) and hand-outs (R17)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enrollment.models import InsuranceYear, Office, School, Sex
from enrollment.querysets import ScopedQuerySet


class Coordinator(models.Model):
    """A school's coordinator as annex 2 lists them; the login is the linked user account."""

    scope_school = "school"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="coordinator", verbose_name=_("登录账户")
    )
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="coordinators", verbose_name=_("学校"))
    name = models.CharField(_("姓名"), max_length=50)
    gender = models.CharField(_("性别"), max_length=1, choices=Sex.choices)
    department = models.CharField(_("工作部门"), max_length=100)
    post = models.CharField(_("职务"), max_length=50)
    work_phone = models.CharField(_("工作电话"), max_length=30)
    mobile = models.CharField(_("手机号码"), max_length=20)
    email = models.EmailField(_("电子邮箱"), blank=True)
    active = models.BooleanField(_("在岗"), default=True)
    registered_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("协管员")
        verbose_name_plural = _("协管员名单")
        ordering = ["school", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(mobile__regex=r"^1[0-9]{10}$"), name="coordinator_mobile_format"),
        ]

    def __str__(self):
        return f"{self.name}（{self.school.name}）"


class CoordinatorChange(models.Model):
    """History of the registry: every change with who made it and when."""

    scope_school = "coordinator__school"

    class Action(models.TextChoices):
        REGISTER = "register", _("登记")
        UPDATE = "update", _("修改")
        DEACTIVATE = "deactivate", _("停用")

    coordinator = models.ForeignKey(Coordinator, on_delete=models.CASCADE, related_name="changes", verbose_name=_("协管员"))
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("修改人"))
    changed_at = models.DateTimeField(_("修改时间"), default=timezone.now)
    action = models.CharField(_("操作"), max_length=20, choices=Action.choices)
    changes = models.JSONField(_("变更内容"), default=dict)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("协管员变更记录")
        verbose_name_plural = _("协管员变更记录")
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.coordinator.name} {self.get_action_display()} {timezone.localtime(self.changed_at):%Y-%m-%d %H:%M}"

    # Keys of ``changes`` that are not fields of the coordinator.
    EXTRA_LABELS = {"reason": _("原因"), "on": _("日期")}

    def change_lines(self) -> list[tuple[str, str, str]]:
        """(label, before, after) per changed item, in the words of the form, for people to read."""
        from enrollment.changes import change_lines

        return [(label, before or "", after) for label, before, after in change_lines(Coordinator, self.changes, self.EXTRA_LABELS)]

    def change_text(self) -> str:
        from enrollment.changes import change_text

        return change_text(Coordinator, self.changes, self.EXTRA_LABELS)


class Notice(models.Model):
    """A message to coordinators: a bureau announcement or a system reminder."""

    class Kind(models.TextChoices):
        ANNOUNCEMENT = "announcement", _("通知公告")
        TRAINING = "training", _("业务培训")
        POLICY = "policy", _("政策调整")
        REMINDER = "reminder", _("参保提醒")

    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.ANNOUNCEMENT)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"))
    office = models.ForeignKey(Office, null=True, blank=True, on_delete=models.CASCADE, related_name="notices", verbose_name=_("仅发给该经办机构所属学校"))
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.CASCADE, related_name="notices", verbose_name=_("仅发给该学校"))
    city = models.ForeignKey("enrollment.City", null=True, blank=True, on_delete=models.CASCADE, related_name="notices", verbose_name=_("城市"))
    published_at = models.DateTimeField(_("发布时间"), default=timezone.now)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("发布人"))

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-published_at"]
        constraints = [
            models.CheckConstraint(condition=Q(office__isnull=True) | Q(school__isnull=True), name="notice_one_audience"),
        ]

    def __str__(self):
        return self.title


class NoticeRead(models.Model):
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notice", "user"], name="notice_read_once")]


class ReminderSent(models.Model):
    """A reminder to a lagging school: nightly, once per threshold (days before the window closes), or sent by
    bureau staff from the dashboard (who, with which completion threshold). What was sent is the notice."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+", verbose_name=_("学校"))
    insurance_year = models.ForeignKey(InsuranceYear, on_delete=models.CASCADE, related_name="+", verbose_name=_("参保年度"))
    # Nightly reminders only; a reminder sent by staff has none (NULLs never collide in the unique constraint).
    days_before = models.PositiveSmallIntegerField(_("截止前天数"), null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("发送人")
    )
    threshold_percent = models.PositiveSmallIntegerField(_("参保率标准（%）"), null=True, blank=True)
    notice = models.ForeignKey(Notice, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("通知"))
    sent_at = models.DateTimeField(_("发送时间"), default=timezone.now)

    class Meta:
        verbose_name = _("参保提醒记录")
        verbose_name_plural = _("参保提醒记录")
        constraints = [
            models.UniqueConstraint(fields=["school", "insurance_year", "days_before"], name="reminder_once_per_threshold"),
            models.CheckConstraint(
                condition=Q(days_before__isnull=False) | Q(threshold_percent__isnull=False), name="reminder_nightly_or_by_staff"
            ),
        ]

    @property
    def by_staff(self) -> bool:
        return self.days_before is None


class Handout(models.Model):
    """Personal rights records and treatment vouchers handed out to a class (R17)."""

    scope_school = "school"

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="handouts", verbose_name=_("学校"))
    insurance_year = models.ForeignKey(InsuranceYear, on_delete=models.CASCADE, related_name="+", verbose_name=_("参保年度"))
    class_name = models.CharField(_("班级"), max_length=50)
    handed_out_on = models.DateField(_("发放日期"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("登记人"))

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("权益记录单发放")
        verbose_name_plural = _("权益记录单发放")
        constraints = [
            models.UniqueConstraint(fields=["school", "insurance_year", "class_name"], name="handout_once_per_class")
        ]

    def __str__(self):
        return f"{self.school.name} {self.class_name} · {self.handed_out_on:%Y-%m-%d}"
