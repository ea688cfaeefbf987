"""Graduate feeds from the school-roll systems and the nightly deregistration runs (R9)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enrollment.models import City, Enrollment, InsuranceYear, School, Student
from enrollment.querysets import ScopedQuerySet


class FeedSource(models.TextChoices):
    SCHOOL_ROLL = "school_roll", _("学籍管理系统（中小学）")
    VOCATIONAL = "vocational", _("中等职业教育综合管理系统")


class GraduateFeed(models.Model):
    """One file (or one JSON posting) from a school-roll system, stored once whatever way it arrived."""

    class Via(models.TextChoices):
        ADMIN = "admin", _("后台上传")
        API = "api", _("接口报送")
        INBOX = "inbox", _("文件目录")

    # A feed belongs to one city: the uploader's (or the posting system's), else the one city its schools
    # lie in. Staff of that city see it; a feed whose city is unknown is seen by superusers only.
    scope_city = "city"

    class State(models.TextChoices):
        PENDING = "pending", _("待处理")
        PROCESSING = "processing", _("处理中")
        DONE = "done", _("已处理")

    source = models.CharField(_("数据来源"), max_length=20, choices=FeedSource.choices)
    received_via = models.CharField(_("接收方式"), max_length=10, choices=Via.choices)
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("上传人")
    )
    city = models.ForeignKey(
        City, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("城市"),
        help_text=_("上传人所属城市，否则为数据中学校所在城市；城市不明的数据仅超级管理员可见"),
    )
    file_name = models.CharField(_("文件名"), max_length=255, blank=True)
    # The same file arriving twice (re-sent, or both uploaded and dropped in the inbox) is stored once.
    checksum = models.CharField(_("SHA-256"), max_length=64, unique=True)
    file = models.FileField(_("文件"), upload_to="graduate-feeds/%Y/", blank=True)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.PENDING)
    record_count = models.PositiveIntegerField(_("记录数"), default=0)
    claimed_by_run = models.ForeignKey(
        "DeregistrationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="claimed_feeds", verbose_name=_("处理批次")
    )
    claimed_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    processed_at = models.DateTimeField(_("处理完成时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("毕业生数据")
        verbose_name_plural = _("毕业生数据")
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["state", "received_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="processing") | Q(claimed_by_run__isnull=False, claimed_at__isnull=False),
                name="graduate_feed_processing_is_claimed",
            ),
            models.CheckConstraint(condition=~Q(state="done") | Q(processed_at__isnull=False), name="graduate_feed_done_has_time"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_source_display()} {self.file_name}"


class GraduateRecord(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "pending", _("待处理")
        STOPPED = "stopped", _("已停保减员")
        REFUND = "refund", _("已停保，已提出退费")
        WINDOW_CLOSED = "window_closed", _("申报期外，名单未变更，仅标记毕业")
        NOT_ENROLLED = "not_enrolled", _("已标记毕业（新年度未登记）")
        ALREADY_STOPPED = "already_stopped", _("此前已停保")
        CONFIRMED_ROSTER = "confirmed_roster", _("名单已确认，待经办机构处理")
        UNKNOWN_IDENTITY = "unknown_identity", _("身份证号码不存在")
        NAME_MISMATCH = "name_mismatch", _("姓名不一致")
        OTHER_SCHOOL = "other_school", _("学生在其他学校")
        ALREADY_LEFT = "already_left", _("学生已离校")

    # What the school must look at before confirming: not stopped automatically.
    EXCEPTIONS = (
        Outcome.UNKNOWN_IDENTITY,
        Outcome.NAME_MISMATCH,
        Outcome.OTHER_SCHOOL,
        Outcome.ALREADY_LEFT,
        Outcome.CONFIRMED_ROSTER,
    )

    scope_school = "school"

    # Few indexes on purpose: the nightly run rewrites every record it processes, and each index
    # is written again per row. Lookups by feed use the (feed, row) constraint, by school the
    # (school, outcome) index; the other references are followed from the record, not to it.
    # The references the run fills in carry no database constraint either: the run sets
    # them from rows it has just read and locked, and each checked constraint costs a lookup
    # per record at commit.
    feed = models.ForeignKey(
        GraduateFeed, on_delete=models.CASCADE, related_name="records", verbose_name=_("毕业生数据"), db_index=False
    )
    row_number = models.PositiveIntegerField(_("行号"))
    identity_number = models.CharField(_("身份证号码"), max_length=18)
    name = models.CharField(_("姓名"), max_length=50)
    school_code = models.CharField(_("学校代码"), max_length=30)
    graduation_date = models.DateField(_("毕业日期"))
    class_name = models.CharField(_("班级"), max_length=50, blank=True)
    # The school the record is shown to: the student's school once matched, else the school the feed names.
    school = models.ForeignKey(
        School, null=True, blank=True, on_delete=models.SET_NULL, related_name="graduate_records", verbose_name=_("学校"), db_index=False,
        db_constraint=False,
    )
    student = models.ForeignKey(
        Student, null=True, blank=True, on_delete=models.SET_NULL, related_name="graduate_records", verbose_name=_("学生"), db_index=False,
        db_constraint=False,
    )
    insurance_year = models.ForeignKey(
        InsuranceYear, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("停保年度"), db_index=False, db_constraint=False
    )
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="graduate_records", verbose_name=_("参保登记"), db_index=False, db_constraint=False
    )
    outcome = models.CharField(_("处理结果"), max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    run = models.ForeignKey(
        "DeregistrationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="records", verbose_name=_("处理批次"), db_index=False, db_constraint=False
    )
    resolved_at = models.DateTimeField(_("人工处理时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("处理人"),
        db_index=False,
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("毕业生记录")
        verbose_name_plural = _("毕业生记录")
        ordering = ["feed", "row_number"]
        indexes = [models.Index(fields=["school", "outcome"])]
        constraints = [models.UniqueConstraint(fields=["feed", "row_number"], name="graduate_record_unique_row")]

    def __str__(self):
        return f"{self.name}（{self.get_outcome_display()}）"

    @property
    def is_exception(self) -> bool:
        return self.outcome in self.EXCEPTIONS

    @property
    def masked_identity_number(self) -> str:
        from enrollment.identity import mask

        return mask(self.identity_number)


class DeregistrationRun(models.Model):
    class State(models.TextChoices):
        RUNNING = "running", _("运行中")
        DONE = "done", _("完成")
        FAILED = "failed", _("失败")

    # A run processes the feeds of one city (None: every city's, shown to superusers only).
    scope_city = "city"

    city = models.ForeignKey(
        City, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("城市"),
    )
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.RUNNING)
    triggered_by = models.CharField(_("触发方式"), max_length=100, blank=True)
    feeds_processed = models.PositiveIntegerField(_("处理数据批数"), default=0)
    record_count = models.PositiveIntegerField(_("记录数"), default=0)
    matched = models.PositiveIntegerField(_("匹配数"), default=0)
    stopped = models.PositiveIntegerField(_("停保数"), default=0)
    exceptions = models.PositiveIntegerField(_("异常数"), default=0)
    exceptions_per_school = models.JSONField(_("各校异常数"), default=dict, blank=True)
    duration_seconds = models.FloatField(_("耗时（秒）"), null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("停保处理批次")
        verbose_name_plural = _("停保处理批次")
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(condition=Q(state="running") | Q(finished_at__isnull=False), name="run_finished_has_time"),
        ]

    def __str__(self):
        return f"run {self.pk}（{self.get_state_display()}）"
