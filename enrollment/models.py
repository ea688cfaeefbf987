"""The core of the system: who is insured, through which school, for which year.

Everything the two notices rule on is stored here: offices, banks, schools and
their debit accounts, insurance years with their fee standard, window and
collection route, students, exemptions, enrollments, each school's roster and
its confirmed snapshots, the audit trail and the personal-data access log.
The coordinators, billing and graduates apps build on these models; this app
imports none of them.
"""

import functools
import operator
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enrollment.identity import NUMBER_PATTERNS, DocumentType
from enrollment.querysets import ScopedQuerySet

ZERO = Decimal("0.00")


def money_field(verbose_name, **kwargs):
    return models.DecimalField(
        verbose_name, max_digits=14, decimal_places=2, validators=[MinValueValidator(ZERO)], **kwargs
    )


# --- Reference data (R1) ----------------------------------------------------


class CityManager(models.Manager.from_queryset(ScopedQuerySet)):
    def get_by_natural_key(self, code):
        return self.get(code=code)


class City(models.Model):
    """A pooling area (统筹地区): it owns its rules (insurance years, exemption categories, banks) and its people."""

    scope_city = "pk"

    code = models.CharField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    banks_restricted = models.BooleanField(
        _("限定划扣银行"), default=True,
        help_text=_(
            "是：学校扣费账户只能开在本市公布的允许划扣银行（广州：穗人社函〔2014〕1366号一(四)列明23家银行）；"
            "否：任何银行均可（苏州：苏社基〔2019〕69号四(五)未限定银行，银行转账或签订协议电子扣款）"
        ),
    )

    objects = CityManager()

    class Meta:
        verbose_name = _("城市")
        verbose_name_plural = _("城市")
        ordering = ["code"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.code,)


class Hotline(models.Model):
    """Help numbers printed in the notices and shown to coordinators (R16)."""

    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="hotlines", verbose_name=_("城市"))
    topic = models.CharField(_("咨询事项"), max_length=100)
    phone = models.CharField(_("电话"), max_length=100)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("咨询电话")
        verbose_name_plural = _("咨询电话")
        ordering = ["city", "order"]
        constraints = [models.UniqueConstraint(fields=["city", "topic"], name="hotline_unique_topic")]

    def __str__(self):
        return f"{self.topic}: {self.phone}"


class OfficeManager(models.Manager.from_queryset(ScopedQuerySet)):
    def get_by_natural_key(self, code):
        return self.get(code=code)


class Office(models.Model):
    """A bureau office: a district branch in Guangzhou, the social-security centre in Suzhou."""

    scope_school = None

    code = models.CharField(_("代码"), max_length=30, unique=True)
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="offices", verbose_name=_("城市"))
    name = models.CharField(_("经办机构"), max_length=100)
    district = models.CharField(_("所属区"), max_length=50)
    address = models.CharField(_("服务地址"), max_length=200)
    liaison = models.CharField(_("联络员"), max_length=50, blank=True)
    phone = models.CharField(_("联系电话"), max_length=50, blank=True)

    urban_district = models.BooleanField(
        _("属市区"), default=True,
        help_text=_("所辖区属于统筹地区的市区；仅适用于市区的参保年度（苏州：市区，不含县级市）不适用于其他区的学校"),
    )

    objects = OfficeManager()

    class Meta:
        verbose_name = _("经办机构")
        verbose_name_plural = _("经办机构")
        ordering = ["city", "code"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.code,)


class BankManager(models.Manager):
    def get_by_natural_key(self, code):
        return self.get(code=code)


class Bank(models.Model):
    """A bank; ``allowed_in`` lists the cities whose bureau accepts debits from it."""

    code = models.CharField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("银行名称"), max_length=50, unique=True)
    allowed_in = models.ManyToManyField(City, blank=True, related_name="allowed_banks", verbose_name=_("允许划扣的城市"))
    file_format = models.CharField(
        _("扣款文件格式"), max_length=30, default="default", help_text=_("批量扣款文件使用的格式代码")
    )

    objects = BankManager()

    class Meta:
        verbose_name = _("银行")
        verbose_name_plural = _("银行")
        ordering = ["code"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.code,)


class ExemptionCategoryManager(models.Manager.from_queryset(ScopedQuerySet)):
    def get_by_natural_key(self, city_code, code):
        return self.get(city__code=city_code, code=code)


class ExemptionCategory(models.Model):
    """An exempt category of R7 (低保, 特困供养, 孤儿...): the fee is paid by public finance.

    Categories belong to the city whose notice names them: an insurance year
    applies only its own city's categories, so a city whose notice exempts no
    one at school (Guangzhou 2014) simply has none.
    """

    scope_city = "city"

    city = models.ForeignKey(
        City, on_delete=models.PROTECT, related_name="exemption_categories", verbose_name=_("城市"),
        help_text=_("规定该免缴类别的统筹地区；参保年度只适用本市的免缴类别"),
    )
    code = models.CharField(_("代码"), max_length=40)
    name = models.CharField(_("名称"), max_length=50)
    local_hukou_only = models.BooleanField(
        _("仅限本市户籍"), default=True, help_text=_("非本市户籍低保大学生一类为否")
    )
    requires_letter = models.BooleanField(
        _("需盖章确认函"), default=False, help_text=_("须由经办机构录入民政局盖章的确认函后方可免缴")
    )

    objects = ExemptionCategoryManager()

    class Meta:
        verbose_name = _("免缴类别")
        verbose_name_plural = _("免缴类别")
        ordering = ["city", "code"]
        constraints = [models.UniqueConstraint(fields=["city", "code"], name="exemption_category_unique_code")]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.city.code, self.code)

    natural_key.dependencies = ["enrollment.city"]


# --- Insurance years (R2, R6, R12) -----------------------------------------


class CollectionRoute(models.TextChoices):
    BANK_DEBIT = "bank_debit", _("银行扣费")
    TAX_DECLARATION = "tax_declaration", _("税务申报")


class Channel(models.TextChoices):
    """Who enrolls a student (R6). Only ``school`` puts the student on a school's paying roster."""

    SCHOOL = "school", _("学校代办")
    VILLAGE_COMMITTEE = "village_committee", _("村民委员会")
    CIVIL_AFFAIRS = "civil_affairs", _("民政部门")
    DISABLED_FEDERATION = "disabled_federation", _("残联")
    COMMUNITY_OFFICE = "community_office", _("社区社保工作机构")
    PUBLIC_FUNDED = "public_funded", _("公费医疗（学校确认，不参保）")
    OUTSIDE_SCHEME = "outside_scheme", _("不属于居民医保学校代办范围")
    INSURED_ELSEWHERE = "insured_elsewhere", _("已在他处参保")


# Channels whose bodies enroll the student themselves; the bureau follows each one up (R20).
FOLLOWED_UP_CHANNELS = (Channel.VILLAGE_COMMITTEE, Channel.CIVIL_AFFAIRS, Channel.DISABLED_FEDERATION)


class LeavingFee(models.TextChoices):
    """What happens to a paid fee when a student leaves school or dies during the year (a city's setting)."""

    KEEP = "keep", _("本年度不退费，下一年度停保")
    REFUND = "refund", _("退还本年度已缴费用，下一年度停保")


class InsuranceYearManager(models.Manager.from_queryset(ScopedQuerySet)):
    def get_by_natural_key(self, city_code, label):
        return self.get(city__code=city_code, label=label)


class InsuranceYear(models.Model):
    scope_city = "city"

    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="insurance_years", verbose_name=_("城市"))
    label = models.CharField(_("参保年度"), max_length=20)
    coverage_start = models.DateField(_("待遇开始日期"))
    coverage_end = models.DateField(_("待遇结束日期"))
    fee_standard = money_field(_("缴费标准（元/人）"))
    fee_provisional = models.BooleanField(
        _("暂定标准"), default=False, help_text=_("暂定标准下可以确认名单，但须待正式标准公布后才扣费")
    )
    window_start = models.DateField(_("申报缴费期开始"))
    window_end = models.DateField(_("申报缴费期结束"))
    collection_route = models.CharField(_("缴费方式"), max_length=20, choices=CollectionRoute.choices)
    coordinator_deadline = models.DateField(_("协管员名单报送截止日期"), null=True, blank=True)
    locked_after_window = models.BooleanField(
        _("申报期结束后锁定"), default=True,
        help_text=_(
            "是：申报缴费期结束后不再受理名单调整、补缴（苏州：苏社基〔2019〕69号五(一)）；"
            "否：申报期结束后学校仍可补充登记和调整（广州：穗人社函〔2014〕1366号未规定锁定，"
            "并要求正式标准公布后按实际标准缴交）。公布正式缴费标准不受此限制。"
        ),
    )
    paid_fee_on_leaving = models.CharField(
        _("离校或死亡学生已缴费用"), max_length=20, choices=LeavingFee.choices, default=LeavingFee.KEEP,
        help_text=_("学生年度中离校或死亡时已缴费用如何处理；无论哪种，下一年度都不再为其参保缴费。"),
    )
    urban_districts_only = models.BooleanField(
        _("仅适用于市区"), default=False,
        help_text=_("是：只有所属经办机构“属市区”的学校适用本年度（苏州：苏州市区，县级市不在范围内）"),
    )
    coverage_description = models.CharField(
        _("待遇期间说明"), max_length=200, blank=True,
        help_text=_(
            "通知对待遇期间的表述，印在权益记录单和待遇凭证的日期之后（广州：穗人社函〔2014〕1366号二(三)"
            "“2014年城镇居民医保年度及2015年城乡居民医保年度”；苏州：苏社基〔2019〕69号五(二)“2020年度（2020年1月至12月）”）"
        ),
    )

    objects = InsuranceYearManager()

    class Meta:
        verbose_name = _("参保年度")
        verbose_name_plural = _("参保年度")
        ordering = ["city", "-window_start"]
        constraints = [
            models.UniqueConstraint(fields=["city", "label"], name="insurance_year_unique_label"),
            models.CheckConstraint(condition=Q(coverage_end__gte=models.F("coverage_start")), name="insurance_year_coverage_order"),
            models.CheckConstraint(condition=Q(window_end__gte=models.F("window_start")), name="insurance_year_window_order"),
            models.CheckConstraint(condition=Q(fee_standard__gte=0), name="insurance_year_fee_not_negative"),
        ]

    def __str__(self):
        return f"{self.city.name} {self.label}"

    def natural_key(self):
        return (self.city.code, self.label)

    natural_key.dependencies = ["enrollment.city"]

    def window_is_open(self, on=None) -> bool:
        today = on or timezone.localdate()
        return self.window_start <= today <= self.window_end

    def accepts_changes(self, on=None) -> bool:
        """Rosters change from the window's opening on; after its end only if the year is not locked (R12)."""
        today = on or timezone.localdate()
        if today < self.window_start:
            return False
        return today <= self.window_end or not self.locked_after_window

    def applies_to_school(self, school) -> bool:
        """Suzhou's year covers its urban districts only: the school's office decides."""
        return not self.urban_districts_only or school.office.urban_district


class ChannelRule(models.Model):
    """One routing rule of an insurance year: students matching ``condition`` enroll through ``channel``.

    Rules are tried in ``order``; a student no rule matches enrolls through the school.
    """

    class Condition(models.TextChoices):
        RURAL_HUKOU = "rural_hukou", _("农村户籍")
        MEDICAL_ASSISTANCE_CIVIL = "medical_assistance_civil", _("医疗救助对象（民政）")
        MEDICAL_ASSISTANCE_DISABLED = "medical_assistance_disabled", _("医疗救助对象（残联）")
        NON_LOCAL_SCHOOL = "non_local_school", _("非本地学校就读")
        PUBLIC_FUNDED_CARE = "public_funded_care", _("享受公费医疗")

    insurance_year = models.ForeignKey(
        InsuranceYear, on_delete=models.CASCADE, related_name="channel_rules", verbose_name=_("参保年度")
    )
    order = models.PositiveSmallIntegerField(_("顺序"))
    condition = models.CharField(_("条件"), max_length=40, choices=Condition.choices)
    channel = models.CharField(_("参保途径"), max_length=30, choices=Channel.choices)
    school_kinds = models.CharField(
        _("适用学校类别"), max_length=200, blank=True, help_text=_("逗号分隔的学校类别代码；留空表示全部")
    )

    class Meta:
        verbose_name = _("参保途径规则")
        verbose_name_plural = _("参保途径规则")
        ordering = ["insurance_year", "order"]
        constraints = [
            models.UniqueConstraint(fields=["insurance_year", "order"], name="channel_rule_unique_order"),
            models.CheckConstraint(condition=~Q(channel="school"), name="channel_rule_not_school"),
        ]

    def __str__(self):
        return f"{self.get_condition_display()} → {self.get_channel_display()}"


# --- Schools and accounts (R3) ---------------------------------------------


class SchoolKind(models.TextChoices):
    PRIMARY_SECONDARY = "primary_secondary", _("中小学校")
    MUNICIPAL_VOCATIONAL = "municipal_vocational", _("市属中等职业学校")
    DISTRICT_VOCATIONAL = "district_vocational", _("区属中等职业学校")
    UNIVERSITY = "university", _("高等院校")


class SchoolManager(models.Manager.from_queryset(ScopedQuerySet)):
    def get_by_natural_key(self, code):
        return self.get(code=code)


class School(models.Model):
    scope_school = "pk"

    code = models.CharField(_("学校代码"), max_length=30, unique=True)
    name = models.CharField(_("学校名称"), max_length=100)
    kind = models.CharField(_("学校类别"), max_length=30, choices=SchoolKind.choices)
    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="schools", verbose_name=_("所属经办机构"))
    is_local = models.BooleanField(
        _("本地学校"), default=True, help_text=_("在本市市区就读的学校；否则学生经社区社保工作机构参保")
    )
    is_agent = models.BooleanField(_("代办单位"), default=True, help_text=_("学校为本校学生代收代缴"))
    final_grade = models.PositiveSmallIntegerField(_("最高年级"), default=12)
    graduation_date = models.DateField(
        _("本学年毕业日期"), null=True, blank=True,
        help_text=_("最高年级学生本学年的毕业日期。毕业前他们仍是在校学生、照常参保；过了这一天仍在缴费名单上的最高年级学生列为疑似毕业生。"),
    )
    active = models.BooleanField(_("有效"), default=True)

    objects = SchoolManager()

    class Meta:
        verbose_name = _("学校")
        verbose_name_plural = _("学校")
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=Q(final_grade__gte=1), name="school_final_grade_positive")]

    def __str__(self):
        return f"{self.name}（{self.code}）"

    def natural_key(self):
        return (self.code,)

    @property
    def city(self):
        return self.office.city


class SchoolDataStamp(models.Model):
    """A token that changes whenever a school's students or graduate records change.

    PostgreSQL triggers (migrations 0004-0005 and the graduates app's) write it in
    the same transaction as the change, bulk SQL and imports included, so a
    page cached under it can never outlive the data it shows and no writer has
    to remember to invalidate anything. Enrollment changes are covered by the
    roster's version. On other databases no trigger exists and nothing is
    cached under it.
    """

    school = models.OneToOneField(
        School, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
        verbose_name=_("学校"),
    )
    token = models.UUIDField(_("数据标记"))

    class Meta:
        verbose_name = _("学校数据标记")
        verbose_name_plural = _("学校数据标记")
        default_permissions = ()


class SchoolAccount(models.Model):
    """The account a school's fees are debited from (GZ 1(4)) or its tax e-debit agreement (SZ 4(5))."""

    scope_school = "school"

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="accounts", verbose_name=_("学校"))
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("开户银行"))
    account_number = models.CharField(_("账号"), max_length=40)
    holder_name = models.CharField(_("户名"), max_length=100)
    agreement_signed_on = models.DateField(_("扣款协议签订日期"), null=True, blank=True)
    active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("扣费账户")
        verbose_name_plural = _("扣费账户")
        constraints = [
            # A school has one account the bank debits; old ones stay for history.
            models.UniqueConstraint(fields=["school"], condition=Q(active=True), name="school_account_one_active"),
        ]

    def __str__(self):
        return f"{self.bank.name} ****{self.account_number[-4:]}"


# --- People and scoping -----------------------------------------------------


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("学校协管员")
    DISTRICT_STAFF = "district_staff", _("区经办人员")
    CITY_STAFF = "city_staff", _("市经办人员")
    SYSTEM = "system", _("外部系统")


class Membership(models.Model):
    """What a user account may see: one school, one office, one city, or a system's narrow grant.

    All access scoping (portal, API, admin, exports) reads this one row.
    """

    class SystemScope(models.TextChoices):
        NONE = "", _("无")
        GRADUATE_FEEDS = "graduate_feeds", _("报送毕业生数据")
        READ_ALL = "read_all", _("只读查询")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.PROTECT, related_name="members", verbose_name=_("学校"))
    office = models.ForeignKey(Office, null=True, blank=True, on_delete=models.PROTECT, related_name="members", verbose_name=_("经办机构"))
    city = models.ForeignKey(City, null=True, blank=True, on_delete=models.PROTECT, related_name="members", verbose_name=_("城市"))
    system_scope = models.CharField(_("系统权限"), max_length=30, choices=SystemScope.choices, blank=True, default="")

    class Meta:
        verbose_name = _("账户权限")
        verbose_name_plural = _("账户权限")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role="coordinator", school__isnull=False, office__isnull=True)
                    | Q(role="district_staff", office__isnull=False, school__isnull=True)
                    | Q(role="city_staff", city__isnull=False, school__isnull=True, office__isnull=True)
                    | Q(role="system", school__isnull=True, office__isnull=True)
                ),
                name="membership_scope_matches_role",
            ),
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()})"


# --- Students, exemptions, enrollments (R5, R6, R7) -------------------------


class Sex(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class StudentStatus(models.TextChoices):
    IN_SCHOOL = "in_school", _("在校")
    GRADUATED = "graduated", _("已毕业")
    LEFT = "left", _("已离校")
    DECEASED = "deceased", _("已死亡")


class MedicalAssistance(models.TextChoices):
    NONE = "", _("无")
    CIVIL_AFFAIRS = "civil_affairs", _("民政医疗救助")
    DISABLED_FEDERATION = "disabled_federation", _("残联医疗救助")


class Student(models.Model):
    scope_school = "school"

    # Unique through the Meta constraint, not unique=True: that would add a second,
    # pattern-matching index no query uses (searches take whole numbers only).
    identity_number = models.CharField(_("身份证号码"), max_length=18)
    # db_default too: the import writes students by COPY without naming this column.
    document_type = models.CharField(
        _("证件类型"), max_length=30, choices=DocumentType.choices, default=DocumentType.RESIDENT_ID, db_default=DocumentType.RESIDENT_ID
    )
    name = models.CharField(_("姓名"), max_length=50)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices)
    birth_date = models.DateField(_("出生日期"))
    hukou_local = models.BooleanField(_("本市户籍"), default=True)
    hukou_rural = models.BooleanField(_("农村户籍"), default=False)
    medical_assistance = models.CharField(
        _("医疗救助"), max_length=30, choices=MedicalAssistance.choices, blank=True, default=""
    )
    public_funded_care = models.BooleanField(_("公费医疗"), default=False)
    # Indexed as the first column of the two composite indexes below.
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="students", verbose_name=_("学校"), db_index=False)
    grade = models.PositiveSmallIntegerField(_("年级"))
    class_name = models.CharField(_("班级"), max_length=50, blank=True)
    status = models.CharField(_("在校状态"), max_length=20, choices=StudentStatus.choices, default=StudentStatus.IN_SCHOOL)
    status_changed_on = models.DateField(_("状态变更日期"), null=True, blank=True)
    has_citizen_card = models.BooleanField(_("已有市民卡"), default=False)
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("学生")
        verbose_name_plural = _("学生")
        ordering = ["school", "grade", "class_name", "name"]
        # The second index is the register's order (portal and API lists): a page of a
        # large school is read off the index instead of sorting the whole school.
        indexes = [
            models.Index(fields=["school", "status"]),
            models.Index(fields=["school", "grade", "class_name", "name", "id"], name="student_register_order"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["identity_number"], name="student_identity_number_unique"),
            models.CheckConstraint(
                condition=functools.reduce(operator.or_, (
                    Q(document_type=kind, identity_number__regex=pattern) for kind, pattern in NUMBER_PATTERNS.items()
                )),
                name="student_identity_number_format",
            ),
            models.CheckConstraint(condition=Q(grade__gte=1), name="student_grade_positive"),
        ]

    def __str__(self):
        return self.name

    @property
    def masked_identity_number(self):
        from enrollment.identity import mask

        return mask(self.identity_number)


class ExemptionSource(models.TextChoices):
    CIVIL_AFFAIRS = "civil_affairs", _("民政部门")
    TRADE_UNION = "trade_union", _("总工会")
    DISABLED_FEDERATION = "disabled_federation", _("残联")
    CONFIRMATION_LETTER = "confirmation_letter", _("民政局盖章确认函")


class Exemption(models.Model):
    """A row of the exemption register: keyed by identity number because lists arrive before registration.

    The register belongs to the city of its category: its staff read and keep it, no other city's.
    """

    scope_city = "category__city"

    identity_number = models.CharField(_("身份证号码"), max_length=18, db_index=True)
    name = models.CharField(_("姓名"), max_length=50, blank=True)
    category = models.ForeignKey(ExemptionCategory, on_delete=models.PROTECT, related_name="exemptions", verbose_name=_("免缴类别"))
    source = models.CharField(_("数据来源"), max_length=30, choices=ExemptionSource.choices)
    valid_from = models.DateField(_("有效期起"))
    valid_to = models.DateField(_("有效期止"), null=True, blank=True)
    evidence = models.FileField(_("证明材料"), upload_to="exemption-letters/%Y/", blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("录入人")
    )
    created_at = models.DateTimeField(_("录入时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("免缴人员")
        verbose_name_plural = _("免缴人员数据库")
        ordering = ["-created_at"]
        constraints = [
            # Repeated lists from the same body update the row instead of adding a second one.
            models.UniqueConstraint(fields=["identity_number", "category", "source"], name="exemption_unique_per_source"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")), name="exemption_valid_order"),
            models.CheckConstraint(
                condition=~Q(source="confirmation_letter") | ~Q(evidence=""), name="exemption_letter_has_evidence"
            ),
        ]

    def __str__(self):
        return f"{self.category}（{self.get_source_display()}）"

    def covers(self, day) -> bool:
        return self.valid_from <= day and (self.valid_to is None or self.valid_to >= day)


class EnrollmentStatus(models.TextChoices):
    REGISTERED = "registered", _("已登记")
    REMOVED = "removed", _("已剔除")
    DEREGISTERED = "deregistered", _("已停保减员")


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", _("未缴费")
    BILLED = "billed", _("已发起扣费/申报")
    PAID = "paid", _("已缴费")
    FUNDED = "funded", _("财政全额补助")
    REFUNDED = "refunded", _("已退费")
    NOT_CHARGED = "not_charged", _("不经学校缴费")


class Enrollment(models.Model):
    """One student in one insurance year: through which channel, what is due and what was paid."""

    scope_school = "school"

    # Both indexed as the first column of the unique constraint and the indexes below.
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="enrollments", verbose_name=_("学生"), db_index=False)
    insurance_year = models.ForeignKey(
        InsuranceYear, on_delete=models.PROTECT, related_name="enrollments", verbose_name=_("参保年度"), db_index=False
    )
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="enrollments", verbose_name=_("代办学校"))
    channel = models.CharField(_("参保途径"), max_length=30, choices=Channel.choices, default=Channel.SCHOOL)
    channel_reason = models.CharField(_("途径依据"), max_length=200, blank=True)
    status = models.CharField(_("登记状态"), max_length=20, choices=EnrollmentStatus.choices, default=EnrollmentStatus.REGISTERED)
    status_reason = models.CharField(_("状态原因"), max_length=200, blank=True)
    fee_due = money_field(_("应缴金额"), default=ZERO)
    exemption = models.ForeignKey(Exemption, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrollments", verbose_name=_("免缴依据"))
    exemption_category = models.ForeignKey(
        ExemptionCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("免缴类别")
    )
    payment_status = models.CharField(_("缴费状态"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID)
    paid_at = models.DateTimeField(_("缴费到账时间"), null=True, blank=True)
    receipt_number = models.CharField(_("电子票据号"), max_length=50, blank=True)
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("参保登记")
        verbose_name_plural = _("参保登记")
        ordering = ["school", "student__grade", "student__class_name", "student__name"]
        # No index holds status: a status change (graduate stopped, student left) then
        # rewrites the row in place (a HOT update, see the table's fillfactor in the
        # migrations) instead of adding an entry to every index.
        indexes = [
            models.Index(fields=["insurance_year", "school"]),
            models.Index(fields=["insurance_year", "payment_status"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["student", "insurance_year"], name="enrollment_one_per_student_year"),
            models.CheckConstraint(condition=Q(fee_due__gte=0), name="enrollment_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(exemption_category__isnull=True) | Q(fee_due=0), name="enrollment_exempt_pays_nothing"
            ),
            models.CheckConstraint(condition=Q(channel="school") | Q(fee_due=0), name="enrollment_other_channel_not_charged"),
        ]

    def __str__(self):
        return f"{self.student} / {self.insurance_year}"

    @property
    def on_paying_roster(self) -> bool:
        return self.status == EnrollmentStatus.REGISTERED and self.channel == Channel.SCHOOL


# --- Rosters and the confirmation gate (R8) ---------------------------------


class RosterState(models.TextChoices):
    OPEN = "open", _("待确认")
    CONFIRMED = "confirmed", _("已确认")
    BILLED = "billed", _("已扣费/申报")
    SETTLED = "settled", _("已到账")


class Roster(models.Model):
    """A school's list for one insurance year. Only an open roster changes."""

    scope_school = "school"

    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="rosters", verbose_name=_("学校"))
    insurance_year = models.ForeignKey(InsuranceYear, on_delete=models.PROTECT, related_name="rosters", verbose_name=_("参保年度"))
    state = models.CharField(_("状态"), max_length=20, choices=RosterState.choices, default=RosterState.OPEN)
    # Bumped by every change to the roster's enrollments, so a confirmation can
    # tell whether the list the coordinator reviewed is still the list it freezes.
    version = models.PositiveIntegerField(_("版本"), default=0)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("参保名单")
        verbose_name_plural = _("参保名单")
        ordering = ["insurance_year", "school"]
        constraints = [models.UniqueConstraint(fields=["school", "insurance_year"], name="roster_one_per_school_year")]

    def __str__(self):
        return f"{self.school.name} {self.insurance_year.label}"

    @property
    def live_confirmation(self):
        """The roster's first (whole-list) confirmation still in force; supplementary ones are not it."""
        return self.confirmations.filter(reopened_at__isnull=True, supplementary=False).first()


class RosterConfirmation(models.Model):
    """The frozen snapshot a school confirmed: what billing charges, line by line."""

    scope_school = "roster__school"

    roster = models.ForeignKey(Roster, on_delete=models.PROTECT, related_name="confirmations", verbose_name=_("参保名单"))
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("确认人"))
    confirmed_at = models.DateTimeField(_("确认时间"), default=timezone.now)
    roster_version = models.PositiveIntegerField(_("名单版本"))
    # A supplementary confirmation freezes only the students registered after the roster was confirmed
    # (late freshmen, transfers in); billing charges it as a supplementary charge of its own.
    supplementary = models.BooleanField(
        _("补充确认"), default=False, db_default=False,
        help_text=_("名单确认或扣费后登记的迟到学生（迟录取新生、转入学生）单独确认，作为补充扣费/补充申报"),
    )
    fee_standard = money_field(_("确认时缴费标准"))
    fee_provisional = models.BooleanField(_("暂定标准"), default=False)
    paying_count = models.PositiveIntegerField(_("缴费人数"))
    exempt_count = models.PositiveIntegerField(_("免缴人数"), default=0)
    total_amount = money_field(_("缴费总额"))
    reopened_at = models.DateTimeField(_("退回时间"), null=True, blank=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("退回人")
    )
    reopen_reason = models.TextField(_("退回原因"), blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("缴费确认")
        verbose_name_plural = _("缴费确认")
        ordering = ["-confirmed_at"]
        constraints = [
            # At most one live snapshot per roster: two confirmations racing each other cannot both land.
            models.UniqueConstraint(
                fields=["roster"], condition=Q(reopened_at__isnull=True, supplementary=False), name="confirmation_one_live_per_roster"
            ),
            models.CheckConstraint(condition=Q(total_amount__gte=0), name="confirmation_total_not_negative"),
            models.CheckConstraint(
                condition=Q(reopened_at__isnull=True) | ~Q(reopen_reason=""), name="confirmation_reopen_needs_reason"
            ),
        ]

    def __str__(self):
        return f"{self.roster} @ {self.confirmed_at:%Y-%m-%d %H:%M}"


class ConfirmationLine(models.Model):
    confirmation = models.ForeignKey(RosterConfirmation, on_delete=models.CASCADE, related_name="lines", verbose_name=_("缴费确认"))
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="confirmation_lines", verbose_name=_("参保登记"))
    fee = money_field(_("应缴金额"))
    exemption_category = models.ForeignKey(
        ExemptionCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("免缴类别")
    )
    # False once the confirmation is sent back (reopened): only live lines are charged.
    live = models.BooleanField(_("有效"), default=True, db_default=True)

    class Meta:
        verbose_name = _("确认名单明细")
        verbose_name_plural = _("确认名单明细")
        constraints = [
            models.UniqueConstraint(fields=["confirmation", "enrollment"], name="confirmation_line_unique"),
            # A student is on at most one confirmation in force per year (the first or a supplementary one),
            # so no two charges can ever be raised for the same enrollment.
            models.UniqueConstraint(fields=["enrollment"], condition=Q(live=True), name="confirmation_line_one_live_per_enrollment"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="confirmation_line_fee_not_negative"),
        ]

    def __str__(self):
        return f"{self.enrollment_id}: {self.fee}"


class ChargeCorrection(models.Model):
    """Money that must move after a roster was billed: an extra debit (positive) or a refund (negative).

    Raised by the core (a final fee standard, a late exemption) and by the
    graduates app (a deregistered graduate already charged); billing acts on it.
    """

    class Reason(models.TextChoices):
        FEE_STANDARD = "fee_standard", _("缴费标准调整")
        EXEMPTION = "exemption", _("事后认定免缴")
        GRADUATE = "graduate", _("毕业生停保")
        DUPLICATE = "duplicate", _("重复缴费")
        LEFT = "left", _("离校")
        DECEASED = "deceased", _("死亡")

    class State(models.TextChoices):
        PENDING = "pending", _("待处理")
        IN_BILLING = "in_billing", _("处理中")
        DONE = "done", _("已完成")
        CANCELLED = "cancelled", _("已撤销")

    scope_school = "enrollment__school"

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="corrections", verbose_name=_("参保登记"))
    amount = models.DecimalField(_("金额（正数补扣，负数退费）"), max_digits=14, decimal_places=2)
    reason = models.CharField(_("原因"), max_length=20, choices=Reason.choices)
    detail = models.CharField(_("说明"), max_length=200, blank=True)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(_("产生时间"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("费用调整")
        verbose_name_plural = _("费用调整")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="correction_amount_not_zero"),
            # One open correction per enrollment and reason: re-running a job cannot refund twice.
            models.UniqueConstraint(
                fields=["enrollment", "reason"], condition=Q(state__in=["pending", "in_billing"]), name="correction_one_open_per_reason"
            ),
        ]

    def __str__(self):
        return f"{self.get_reason_display()} {self.amount}"


# --- Changes during the year (R20): transfers, insurance elsewhere, follow-up of other channels -----------


class Transfer(models.Model):
    """A student moving to another school of the same city: requested by the new school, decided by the old one.

    Accepting it moves the student and the year's enrollment (enrollment.services.transfers): paid stays paid,
    unpaid goes onto the new school's roster.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("待原学校处理")
        ACCEPTED = "accepted", _("已转出")
        REFUSED = "refused", _("已拒绝")

    # Staff decide for the old school: the admin and the bureau pages scope by it.
    scope_school = "from_school"

    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="transfers", verbose_name=_("学生"))
    insurance_year = models.ForeignKey(InsuranceYear, on_delete=models.PROTECT, related_name="+", verbose_name=_("参保年度"))
    from_school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="transfers_out", verbose_name=_("原学校"))
    to_school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="transfers_in", verbose_name=_("转入学校"))
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.PENDING)
    note = models.CharField(_("申请说明"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("申请人")
    )
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("处理人")
    )
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    refusal_reason = models.CharField(_("拒绝原因"), max_length=200, blank=True)
    payment_status = models.CharField(_("转出时缴费状态"), max_length=20, choices=PaymentStatus.choices, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("转学")
        verbose_name_plural = _("转学")
        ordering = ["-requested_at"]
        constraints = [
            # One open request per student: a second school cannot ask while the first waits.
            models.UniqueConstraint(fields=["student"], condition=Q(state="pending"), name="transfer_one_pending_per_student"),
            models.CheckConstraint(condition=~Q(from_school=models.F("to_school")), name="transfer_between_two_schools"),
            models.CheckConstraint(condition=~Q(state="refused") | ~Q(refusal_reason=""), name="transfer_refusal_needs_reason"),
        ]

    def __str__(self):
        return f"{self.student}：{self.from_school.name} → {self.to_school.name}"


class OtherScheme(models.TextChoices):
    EMPLOYEE = "employee", _("职工基本医疗保险")
    RESIDENTS_HUKOU = "residents_hukou", _("户籍地城乡居民医保")
    OTHER = "other", _("其他")


class OtherInsurance(models.Model):
    """Proof that a student is insured elsewhere for the year: not charged, counted as covered apart from the school's own."""

    scope_school = "enrollment__school"

    enrollment = models.OneToOneField(Enrollment, on_delete=models.PROTECT, related_name="other_insurance", verbose_name=_("参保登记"))
    scheme = models.CharField(_("参保险种"), max_length=20, choices=OtherScheme.choices)
    place = models.CharField(_("参保地"), max_length=100)
    valid_until = models.DateField(_("参保截止日期"))
    detail = models.CharField(_("说明"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("登记人")
    )
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("他处参保")
        verbose_name_plural = _("他处参保")
        ordering = ["-recorded_at"]

    def __str__(self):
        return f"{self.get_scheme_display()}（{self.place}，至{self.valid_until.isoformat()}）"


class OtherChannelEnrollment(models.Model):
    """The bureau's follow-up of a student sent to the village committee, civil affairs or the federation: enrolled there."""

    scope_school = "enrollment__school"

    enrollment = models.OneToOneField(
        Enrollment, on_delete=models.PROTECT, related_name="other_channel_enrollment", verbose_name=_("参保登记")
    )
    enrolled_on = models.DateField(_("参保日期"))
    place = models.CharField(_("参保地点"), max_length=100)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("登记人")
    )
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("其他途径参保跟进")
        verbose_name_plural = _("其他途径参保跟进")
        ordering = ["-recorded_at"]

    def __str__(self):
        return f"{self.place} {self.enrolled_on.isoformat()}"


# --- Citizen cards (R14) ----------------------------------------------------


class CitizenCard(models.Model):
    class State(models.TextChoices):
        PHOTO_MISSING = "photo_missing", _("待上传照片")
        PHOTO_SUBMITTED = "photo_submitted", _("照片已上传")
        SENT = "sent", _("已报送制卡")
        READY = "ready", _("待领取")
        PICKED_UP = "picked_up", _("已领取")

    scope_school = "student__school"

    student = models.OneToOneField(Student, on_delete=models.CASCADE, related_name="citizen_card", verbose_name=_("学生"))
    state = models.CharField(_("制卡状态"), max_length=20, choices=State.choices, default=State.PHOTO_MISSING)
    photo = models.ImageField(_("照片"), upload_to="card-photos/%Y/", blank=True)
    photo_uploaded_at = models.DateTimeField(_("照片上传时间"), null=True, blank=True)
    sent_at = models.DateTimeField(_("报送时间"), null=True, blank=True)
    picked_up_on = models.DateField(_("领取日期"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("市民卡制卡")
        verbose_name_plural = _("市民卡制卡")

    def __str__(self):
        return f"{self.student}（{self.get_state_display()}）"


# --- Background jobs, audit, personal-data access ---------------------------


class Job(models.Model):
    """A long-running piece of work started by a person (import, export, PDF): state and progress for the UI."""

    class Kind(models.TextChoices):
        STUDENT_IMPORT = "student_import", _("学生导入")
        EXEMPTION_IMPORT = "exemption_import", _("免缴名单导入")
        BATCH_GENERATION = "batch_generation", _("生成扣款批次")
        DECLARATION_GENERATION = "declaration_generation", _("生成税务申报")
        RESULT_IMPORT = "result_import", _("导入扣款结果")
        RECEIPT_IMPORT = "receipt_import", _("导入电子票据")
        GRADUATE_RUN = "graduate_run", _("毕业生停保")
        DOCUMENTS = "documents", _("打印权益记录单")
        REPORT = "report", _("报表")
        PHOTO_EXPORT = "photo_export", _("导出制卡照片")

    class State(models.TextChoices):
        PENDING = "pending", _("排队中")
        RUNNING = "running", _("处理中")
        SUCCEEDED = "succeeded", _("已完成")
        FAILED = "failed", _("失败")

    scope_school = "school"

    kind = models.CharField(_("类型"), max_length=30, choices=Kind.choices)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("发起人"))
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("学校"))
    insurance_year = models.ForeignKey(InsuranceYear, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("参保年度"))
    params = models.JSONField(_("参数"), default=dict, blank=True)
    input_file = models.FileField(_("上传文件"), upload_to="jobs/input/%Y/%m/", blank=True)
    input_name = models.CharField(_("原文件名"), max_length=255, blank=True)
    output_file = models.FileField(_("结果文件"), upload_to="jobs/output/%Y/%m/", blank=True)
    progress = models.PositiveIntegerField(_("已处理"), default=0)
    total = models.PositiveIntegerField(_("总数"), default=0)
    result = models.JSONField(_("结果"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    expires_at = models.DateTimeField(_("文件过期时间"), null=True, blank=True)
    # The lifecycle (enrollment.services.jobs): the row is the source of truth, a
    # broker message only wakes a worker up (transactional outbox).
    task_name = models.CharField(_("任务"), max_length=100, blank=True)
    enqueued_at = models.DateTimeField(_("最近发送时间"), null=True, blank=True)
    worker = models.CharField(_("处理进程"), max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(_("最近心跳"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("运行次数"), default=0)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="job_state_heartbeat")]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def percent(self) -> int:
        if self.state == self.State.SUCCEEDED:
            return 100
        return int(self.progress * 100 / self.total) if self.total else 0


class AuditAction(models.TextChoices):
    # One name per kind of change, so the audit can be searched and shown by kind; a new kind of
    # change adds a member here (and its migration: the column's check constraint lists them all).
    STUDENT_CREATE = "student_create", _("新增学生")
    STUDENT_UPDATE = "student_update", _("修改学生")
    STUDENT_STATUS = "student_status", _("学生状态变更")
    STUDENT_IMPORT = "student_import", _("导入学生")
    STUDENT_GRADUATED = "student_graduated", _("学生毕业")
    PSEUDONYMISE = "pseudonymise", _("个人信息去标识化")
    ENROLLMENT_CREATE = "enrollment_create", _("新增参保登记")
    ENROLLMENT_UPDATE = "enrollment_update", _("修改参保登记")
    ENROLLMENT_REMOVE = "enrollment_remove", _("移出参保名单")
    ENROLLMENT_RESTORE = "enrollment_restore", _("恢复到参保名单")
    ENROLLMENT_ADD_LATE = "enrollment_add_late", _("名单确认后登记迟到学生")
    ENROLLMENT_FEE_RECOMPUTE = "enrollment_fee_recompute", _("重算应缴金额")
    ENROLLMENT_EXEMPT_AFTER_CONFIRM = "enrollment_exempt_after_confirm", _("确认后认定免缴")
    ENROLLMENT_EXEMPT_AFTER_BILLING = "enrollment_exempt_after_billing", _("扣款后认定免缴")
    ENROLLMENT_PAID = "enrollment_paid", _("缴费成功")
    ENROLLMENT_REFUNDED = "enrollment_refunded", _("全额退费")
    ENROLLMENT_PARTLY_REFUNDED = "enrollment_partly_refunded", _("部分退费")
    GRADUATE_DEREGISTERED = "graduate_deregistered", _("毕业生停保")
    ROSTER_CONFIRM = "roster_confirm", _("确认参保名单")
    ROSTER_REOPEN = "roster_reopen", _("退回参保名单")
    ROSTER_CONFIRM_SUPPLEMENTARY = "roster_confirm_supplementary", _("补充确认迟到学生")
    SUPPLEMENTARY_SETTLED = "supplementary_settled", _("补充确认已结清")
    ROSTER_BILLED = "roster_billed", _("名单已出账")
    ROSTER_SETTLED = "roster_settled", _("名单已结清")
    FEE_STANDARD_PUBLISH = "fee_standard_publish", _("公布缴费标准")
    CHARGE_CORRECTION = "charge_correction", _("补扣或退费调整")
    CORRECTION_BILLED = "correction_billed", _("调整已出账")
    EXEMPTION_CREATE = "exemption_create", _("新增免缴人员")
    EXEMPTION_UPDATE = "exemption_update", _("修改免缴人员")
    DEBIT_BATCH_GENERATED = "debit_batch_generated", _("生成扣款批次")
    DEBIT_RESULTS_IMPORTED = "debit_results_imported", _("导入扣款结果")
    DEBIT_INSTRUCTION_RETRIED = "debit_instruction_retried", _("重新扣款")
    REFUNDS_EXPORTED = "refunds_exported", _("导出退费文件")
    REFUND_RESULTS_IMPORTED = "refund_results_imported", _("导入退费结果")
    DECLARATION_PAID = "declaration_paid", _("申报已缴费")
    CARD_PHOTO_UPLOAD = "card_photo_upload", _("上传社保卡照片")
    CARD_SENT = "card_sent", _("社保卡已送制")
    CARD_READY = "card_ready", _("社保卡已制成")
    CARD_PICKED_UP = "card_picked_up", _("社保卡已领取")
    COORDINATOR_REGISTER = "coordinator_register", _("登记协管员")
    COORDINATOR_UPDATE = "coordinator_update", _("修改协管员")
    COORDINATOR_DEACTIVATE = "coordinator_deactivate", _("停用协管员")
    NOTICE_PUBLISHED = "notice_published", _("发布通知")
    NOTICE_UPDATED = "notice_updated", _("修改通知")
    HANDOUT_RECORDED = "handout_recorded", _("登记发放")
    HANDOUT_UPDATED = "handout_updated", _("修改发放记录")
    DOCUMENTS_REQUESTED = "documents_requested", _("申请打印材料")
    API_TOKEN_ISSUED = "api_token_issued", _("签发接口令牌")
    API_TOKENS_REVOKED = "api_tokens_revoked", _("吊销接口令牌")
    LOGIN_UNLOCKED = "login_unlocked", _("解除登录锁定")
    REMINDER_SENT = "reminder_sent", _("发送催办提醒")
    # Changes during the year (R20).
    TRANSFER_REQUEST = "transfer_request", _("申请转学")
    TRANSFER_ACCEPT = "transfer_accept", _("同意转学")
    TRANSFER_REFUSE = "transfer_refuse", _("拒绝转学")
    STUDENT_TRANSFER = "student_transfer", _("学生转学")
    ENROLLMENT_TRANSFER = "enrollment_transfer", _("参保登记随学生转学")
    STUDENT_REREGISTERED = "student_reregistered", _("外市离校学生在本市登记")
    STUDENT_LEFT = "student_left", _("学生离校")
    STUDENT_DECEASED = "student_deceased", _("学生死亡")
    STUDENT_STATUS_CORRECTED = "student_status_corrected", _("更正在校状态")
    INSURED_ELSEWHERE_RECORD = "insured_elsewhere_record", _("登记他处参保")
    INSURED_ELSEWHERE_CANCEL = "insured_elsewhere_cancel", _("撤销他处参保")
    OTHER_CHANNEL_ENROLLED = "other_channel_enrolled", _("其他途径已参保")


class AuditEvent(models.Model):
    """Who changed what, when, from which entry point: old and new values (append-only)."""

    class Source(models.TextChoices):
        PORTAL = "portal", _("协管员门户")
        ADMIN = "admin", _("管理后台")
        API = "api", _("接口")
        IMPORT = "import", _("批量导入")
        JOB = "job", _("后台任务")
        SHELL = "shell", _("命令行")

    Action = AuditAction

    scope_school = "school"

    # The references below carry no database foreign key: imports and nightly jobs
    # write hundreds of thousands of audit rows at once, and the per-row key checks
    # at commit cost more than the rows themselves. Every writer takes the ids from
    # rows it has just read; a delete still clears them (SET_NULL, done by Django).
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("操作人"),
        db_constraint=False, db_index=False,
    )
    actor_label = models.CharField(_("操作方"), max_length=100, blank=True)
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices)
    action = models.CharField(_("操作"), max_length=50, choices=Action.choices)
    model = models.CharField(_("对象类型"), max_length=50)
    object_id = models.BigIntegerField(_("对象编号"))
    school = models.ForeignKey(
        School, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("学校"), db_constraint=False
    )
    student = models.ForeignKey(
        Student, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events", verbose_name=_("学生"), db_constraint=False
    )
    roster = models.ForeignKey(
        Roster, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events", verbose_name=_("参保名单"), db_constraint=False
    )
    changes = models.JSONField(_("变更内容"), default=dict, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("操作记录")
        verbose_name_plural = _("操作记录")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["model", "object_id"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(action__in=AuditAction.values), name="auditevent_action_known"),
        ]

    def __str__(self):
        from enrollment.changes import model_named

        model = model_named(self.model)
        kind = model._meta.verbose_name if model is not None else self.model
        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M} {self.get_action_display()} {kind}#{self.object_id}"



class PersonalDataAction(models.TextChoices):
    ADMIN_VIEW_STUDENT = "admin_view_student", _("后台查看学生")
    API_FULL_IDENTITY = "api_full_identity", _("接口读取完整证件号码")
    EXPORT_REGISTER_FULL = "export_register_full", _("导出学生名册（完整证件号码）")
    EXPORT_ROSTER_FULL = "export_roster_full", _("导出参保名单（完整证件号码）")
    CARD_PHOTO_EXPORT = "card_photo_export", _("导出社保卡照片")


class PersonalDataAccess(models.Model):
    """Each view or export of full identity numbers: who, what, when (PIPL). Nobody edits it."""

    Action = PersonalDataAction

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("用户"))
    action = models.CharField(_("操作"), max_length=50, choices=Action.choices)
    target = models.CharField(_("对象"), max_length=200)
    record_count = models.PositiveIntegerField(_("记录数"), default=1)
    ip_address = models.GenericIPAddressField(_("IP地址"), null=True, blank=True)

    class Meta:
        verbose_name = _("个人信息查看记录")
        verbose_name_plural = _("个人信息查看记录")
        ordering = ["-at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(action__in=PersonalDataAction.values), name="personaldataaccess_action_known"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.get_action_display()}"
