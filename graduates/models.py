"""Graduate feeds from the school-roll systems and the nightly deregistration runs (R9)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enrollment.models import School, Student
from enrollment.querysets import ScopedQuerySet


class FeedSource(models.TextChoices):
    SCHOOL_ROLL = "school_roll", _("广州市学籍管理系统")
    VOCATIONAL = "vocational", _("中等职业教育综合管理系统")


class GraduateFeed(models.Model):
    class Via(models.TextChoices):
        ADMIN = "admin", _("后台上传")
        API = "api", _("接口报送")
        INBOX = "inbox", _("文件目录")

    class State(models.TextChoices):
        PENDING = "pending", _("待处理")
        PROCESSING = "processing", _("处理中")
        DONE = "done", _("已处理")
        REFUSED = "refused", _("已拒收")

    source = models.CharField(_("数据来源"), max_length=20, choices=FeedSource.choices)
    received_via = models.CharField(_("接收方式"), max_length=10, choices=Via.choices)
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("上传人"))
    file_name = models.CharField(_("文件名"), max_length=255, blank=True)
    checksum = models.CharField(_("SHA-256"), max_length=64, unique=True)
    file = models.FileField(_("文件"), upload_to="graduate-feeds/%Y/", blank=True)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.PENDING)
    record_count = models.PositiveIntegerField(_("记录数"), default=0)
    claimed_by_run = models.ForeignKey("DeregistrationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="claimed_feeds", verbose_name=_("处理批次"))
    claimed_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    processed_at = models.DateTimeField(_("处理完成时间"), null=True, blank=True)
    error_report = models.TextField(_("错误报告"), blank=True)

    class Meta:
        verbose_name = _("毕业生数据")
        verbose_name_plural = _("毕业生数据")
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.get_source_display()} {self.received_at:%Y-%m-%d %H:%M}"


class GraduateRecord(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "pending", _("待处理")
        STOPPED = "stopped", _("已停保")
        ALREADY_STOPPED = "already_stopped", _("此前已停保")
        UNKNOWN_IDENTITY = "unknown_identity", _("身份证号码不存在")
        NAME_MISMATCH = "name_mismatch", _("姓名不一致")
        OTHER_SCHOOL = "other_school", _("学生在其他学校")
        ALREADY_LEFT = "already_left", _("学生已离校")
        CONFIRMED_ROSTER = "confirmed_roster", _("名单已确认，待经办机构处理")

    scope_school = "school"

    feed = models.ForeignKey(GraduateFeed, on_delete=models.CASCADE, related_name="records", verbose_name=_("毕业生数据"))
    row_number = models.PositiveIntegerField(_("行号"))
    identity_number = models.CharField(_("身份证号码"), max_length=18, db_index=True)
    name = models.CharField(_("姓名"), max_length=50)
    school_code = models.CharField(_("学校代码"), max_length=30)
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.SET_NULL, related_name="graduate_records", verbose_name=_("学校"))
    graduation_date = models.DateField(_("毕业日期"))
    class_name = models.CharField(_("班级"), max_length=50, blank=True)
    student = models.ForeignKey(Student, null=True, blank=True, on_delete=models.SET_NULL, related_name="graduate_records", verbose_name=_("学生"))
    outcome = models.CharField(_("处理结果"), max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    run = models.ForeignKey("DeregistrationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="records", verbose_name=_("处理批次"))
    resolved_at = models.DateTimeField(_("人工处理时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("处理人"))

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("毕业生记录")
        verbose_name_plural = _("毕业生记录")
        ordering = ["feed", "row_number"]
        indexes = [models.Index(fields=["school", "outcome"])]
        constraints = [models.UniqueConstraint(fields=["feed", "row_number"], name="graduate_record_unique_row")]


class DeregistrationRun(models.Model):
    class State(models.TextChoices):
        RUNNING = "running", _("运行中")
        DONE = "done", _("完成")
        FAILED = "failed", _("失败")

    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.RUNNING)
    triggered_by = models.CharField(_("触发方式"), max_length=50, blank=True)
    matched = models.PositiveIntegerField(_("匹配数"), default=0)
    stopped = models.PositiveIntegerField(_("停保数"), default=0)
    exceptions = models.PositiveIntegerField(_("异常数"), default=0)
    exceptions_per_school = models.JSONField(_("各校异常数"), default=dict, blank=True)
    duration_seconds = models.FloatField(_("耗时（秒）"), null=True, blank=True)

    class Meta:
        verbose_name = _("停保处理批次")
        verbose_name_plural = _("停保处理批次")
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(condition=Q(state="running") | Q(finished_at__isnull=False), name="run_finished_has_time"),
        ]
