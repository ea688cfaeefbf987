"""Admin pages for reference data, schools, accounts, students and jobs (bureau staff).

Every page is scoped through ``ScopedModelAdmin``: district staff reach only their
office's schools and students (a change page of another district's record, even
typed by URL, is "not found"), city staff reach their city.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from enrollment import identity, rules
from enrollment.admin.scoping import ScopedModelAdmin, people_visible_to
from enrollment.identity import DocumentType
from enrollment.models import (
    AuditEvent,
    Bank,
    ChannelRule,
    CitizenCard,
    City,
    ExemptionCategory,
    Hotline,
    InsuranceYear,
    Job,
    MedicalAssistance,
    Membership,
    Office,
    PersonalDataAccess,
    Roster,
    RosterState,
    School,
    SchoolAccount,
    Sex,
    Student,
)
from enrollment.querysets import membership_city_id, membership_of
from enrollment.services.common import Actor, check_window_open


def mask_account(number: str) -> str:
    return f"****{number[-4:]}" if number else ""


# --- Reference data -------------------------------------------------------


class HotlineInline(admin.TabularInline):
    model = Hotline
    extra = 0
    fields = ["order", "topic", "phone", "address"]


@admin.register(City)
class CityAdmin(ScopedModelAdmin):
    list_display = ["name", "code", "banks_restricted"]
    search_fields = ["name", "code"]
    inlines = [HotlineInline]


@admin.register(Office)
class OfficeAdmin(ScopedModelAdmin):
    list_display = ["name", "district", "city", "urban_district", "address", "liaison", "phone"]
    list_filter = ["city"]
    search_fields = ["name", "district", "code", "liaison"]


@admin.register(Bank)
class BankAdmin(ScopedModelAdmin):
    list_display = ["name", "code", "file_format", "allowed_cities"]
    list_filter = ["allowed_in", "file_format"]
    search_fields = ["name", "code"]
    filter_horizontal = ["allowed_in"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("allowed_in")

    def has_change_permission(self, request, obj=None):
        # A bank is shared reference data: staff change only a bank no other city relies on.
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        own = membership_city_id(membership_of(request.user))
        return not obj.allowed_in.exclude(pk=own).exists()

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "allowed_in":
            kwargs["queryset"] = City.objects.visible_to(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        # The form offers only the staff's own city: other cities' places on the list are kept as they were.
        others = list(form.instance.allowed_in.exclude(pk__in=City.objects.visible_to(request.user).values("pk")))
        super().save_related(request, form, formsets, change)
        form.instance.allowed_in.add(*others)

    @admin.display(description=_("允许划扣的城市"))
    def allowed_cities(self, obj):
        return "、".join(city.name for city in obj.allowed_in.all())


@admin.register(ExemptionCategory)
class ExemptionCategoryAdmin(ScopedModelAdmin):
    list_display = ["name", "code", "city", "local_hukou_only", "requires_letter"]
    list_filter = ["local_hukou_only", "requires_letter"]
    search_fields = ["name", "code"]


class ChannelRuleInline(admin.TabularInline):
    model = ChannelRule
    extra = 0
    fields = ["order", "condition", "channel", "school_kinds"]


class InsuranceYearAdminForm(forms.ModelForm):
    class Meta:
        model = InsuranceYear
        fields = [
            "city", "label", "collection_route", "fee_standard", "fee_provisional", "window_start", "window_end",
            "coverage_start", "coverage_end", "coverage_description", "coordinator_deadline", "locked_after_window",
            "urban_districts_only",
        ]

    @property
    def publishes_fee(self) -> bool:
        """On an existing year a new standard is a publication: rosters and billed charges must follow it."""
        return bool(self.instance.pk) and bool({"fee_standard", "fee_provisional"} & set(self.changed_data))

    def clean(self):
        data = super().clean()
        if self.publishes_fee:
            if data.get("fee_provisional"):
                self.add_error(
                    "fee_provisional",
                    _("已设立的参保年度修改缴费标准即为公布正式标准，请取消“暂定标准”后保存。"),
                )
        # Publishing is a bureau act allowed at any time, after the window too (GZ 2(3)).
        return data


@admin.register(InsuranceYear)
class InsuranceYearAdmin(ScopedModelAdmin):
    form = InsuranceYearAdminForm
    list_display = [
        "label", "city", "fee_standard", "fee_provisional", "window_start", "window_end", "coverage_start",
        "coverage_end", "collection_route",
    ]
    list_filter = ["city", "collection_route", "fee_provisional"]
    search_fields = ["label", "city__name"]
    date_hierarchy = "window_start"
    inlines = [ChannelRuleInline]
    fieldsets = [
        (None, {"fields": ["city", "label", "collection_route"]}),
        (_("缴费标准"), {"fields": ["fee_standard", "fee_provisional"]}),
        (_("申报缴费期与待遇期"), {"fields": ["window_start", "window_end", "coverage_start", "coverage_end",
                                                  "coverage_description"]}),
        (_("本市规则"), {"fields": ["locked_after_window", "urban_districts_only"]}),
        (_("协管员"), {"fields": ["coordinator_deadline"]}),
    ]

    def save_model(self, request, obj, form, change):
        if not (change and form.publishes_fee):
            return super().save_model(request, obj, form, change)
        from enrollment.services.fees import fee_standard_publish

        new_fee = obj.fee_standard
        stored = InsuranceYear.objects.get(pk=obj.pk)
        # Other fields save as usual; the standard itself changes only through its service.
        obj.fee_standard, obj.fee_provisional = stored.fee_standard, stored.fee_provisional
        super().save_model(request, obj, form, change)
        result = fee_standard_publish(
            actor=Actor(user=request.user, source=AuditEvent.Source.ADMIN), insurance_year=obj, fee_standard=new_fee
        )
        self.message_user(
            request,
            _("已公布正式缴费标准%(fee)s元/人：调整%(enrollments)d条参保登记，产生%(corrections)d条费用调整。")
            % {"fee": result["fee_standard"], "enrollments": result.get("enrollments", 0),
               "corrections": result.get("corrections", 0)},
        )


# --- Schools and accounts -------------------------------------------------


class SchoolAccountForm(forms.ModelForm):
    class Meta:
        model = SchoolAccount
        fields = ["school", "bank", "account_number", "holder_name", "agreement_signed_on", "active"]

    def clean(self):
        data = super().clean()
        bank = data.get("bank")
        school = data.get("school") or getattr(self.instance, "school", None)
        city = getattr(getattr(school, "office", None), "city", None)
        if bank is not None and city is not None and city.banks_restricted and not bank.allowed_in.filter(pk=city.pk).exists():
            # Where the city publishes a list, only its banks may debit (GZ 1(4)); Suzhou names none (SZ 4(5)).
            self.add_error("bank", _("%(bank)s不在本市允许划扣医保费的银行名单内。") % {"bank": bank.name})
        return data


def allowed_banks_field(admin_obj, db_field, request, **kwargs):
    """The staff's city's allowed banks where it restricts them, every bank where it does not."""
    if db_field.name == "bank":
        city = City.objects.filter(pk=membership_city_id(membership_of(request.user))).first()
        if city is not None and not city.banks_restricted:
            kwargs["queryset"] = Bank.objects.all()
        elif city is not None:
            kwargs["queryset"] = Bank.objects.filter(allowed_in=city)
        else:
            kwargs["queryset"] = Bank.objects.all()  # superusers: the form checks the school's city
    return kwargs


class SchoolAccountInline(admin.TabularInline):
    model = SchoolAccount
    form = SchoolAccountForm
    extra = 0
    fields = ["bank", "account_number", "holder_name", "agreement_signed_on", "active"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs = allowed_banks_field(self, db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(School)
class SchoolAdmin(ScopedModelAdmin):
    list_display = ["name", "code", "kind", "office", "is_local", "is_agent", "debit_account", "active"]
    list_filter = ["kind", "office__city", ("office", admin.RelatedOnlyFieldListFilter), "is_agent", "active"]
    search_fields = ["name", "code"]
    list_select_related = ["office"]
    inlines = [SchoolAccountInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("accounts__bank")

    @admin.display(description=_("扣费账户"))
    def debit_account(self, obj):
        for account in obj.accounts.all():
            if account.active:
                return f"{account.bank.name} {mask_account(account.account_number)}"
        return _("未申报")


@admin.register(SchoolAccount)
class SchoolAccountAdmin(ScopedModelAdmin):
    form = SchoolAccountForm
    list_display = ["school", "bank", "masked_number", "holder_name", "agreement_signed_on", "active"]
    list_filter = [("bank", admin.RelatedOnlyFieldListFilter), "active"]
    search_fields = ["school__name", "school__code", "holder_name"]
    list_select_related = ["school", "bank"]
    autocomplete_fields = ["school"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs = allowed_banks_field(self, db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("账号"))
    def masked_number(self, obj):
        return mask_account(obj.account_number)


# --- Accounts' scope ------------------------------------------------------


@admin.register(Membership)
class MembershipAdmin(ScopedModelAdmin):
    list_display = ["user", "role", "school", "office", "city", "system_scope"]
    list_filter = ["role", "system_scope"]
    search_fields = ["user__username", "school__name", "office__name"]
    list_select_related = ["user", "school", "office", "city"]
    autocomplete_fields = ["school"]
    actions = ["unlock_login"]

    def has_unlock_permission(self, request):
        # Releasing a log-in lock is for bureau staff (and superusers); whose, ``may_unlock`` decides per account.
        membership = membership_of(request.user)
        return request.user.is_superuser or (
            request.user.is_staff and membership is not None and membership.role in ("city_staff", "district_staff")
        )

    @admin.action(description=_("解除登录锁定"), permissions=["unlock"])
    def unlock_login(self, request, queryset):
        from django.contrib import messages

        from enrollment.lockout import login_unlock, may_unlock
        from enrollment.models import AuditEvent

        actor = Actor(user=request.user, source=AuditEvent.Source.ADMIN)
        released, refused = [], []
        for membership in queryset.select_related("user", "school"):
            if may_unlock(user=request.user, target=membership.user):
                login_unlock(actor=actor, user=membership.user)
                released.append(membership.user.get_username())
            else:
                refused.append(membership.user.get_username())
        if released:
            self.message_user(request, _("已解除登录锁定：%(names)s。") % {"names": "、".join(released)}, messages.SUCCESS)
        if refused:
            self.message_user(
                request, _("无权解除以下账户的登录锁定（区经办人员只能解除本区学校协管员的锁定）：%(names)s。")
                % {"names": "、".join(refused)}, messages.WARNING,
            )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        membership = membership_of(request.user)
        if membership is None:
            return qs.none()
        if membership.role == "city_staff":
            city = membership.city_id
            return qs.filter(Q(school__office__city=city) | Q(office__city=city) | Q(city=city))
        if membership.role == "district_staff":
            office = membership.office_id
            return qs.filter(Q(school__office=office) | Q(office=office))
        return qs.none()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            membership = membership_of(request.user)
            if db_field.name == "user":
                # Staff never attach a scope to a superuser's account or widen their own, and see only the
                # accounts of their own city (district staff: their district's); a new account is given its
                # first scope by a superuser.
                kwargs["queryset"] = people_visible_to(
                    request.user, db_field.related_model._default_manager.exclude(pk=request.user.pk)
                )
            elif db_field.name == "city":
                kwargs["queryset"] = City.objects.filter(pk=getattr(membership, "city_id", None))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- Students ---------------------------------------------------------------


STUDENT_FIELDS = [
    "document_type", "identity_number", "name", "sex", "birth_date", "grade", "class_name", "hukou_local", "hukou_rural",
    "medical_assistance", "public_funded_care", "has_citizen_card",
]


class StudentAdminForm(forms.ModelForm):
    """Checks what the student services check, so a refusal shows on the form instead of as an error page.

    The typed fields only collect text: ``enrollment.rules`` decides, as for the portal, the API and the import.
    """

    # Select widgets on plain text fields: a value outside the list gets the rules' message, not the form's.
    document_type = forms.CharField(
        label=_("证件类型"), required=False, widget=forms.Select(choices=[("", _("按号码自动识别")), *DocumentType.choices]),
    )
    identity_number = forms.CharField(label=_("证件号码"), required=False)
    name = forms.CharField(label=_("姓名"), required=False, strip=False)
    sex = forms.CharField(label=_("性别"), required=False, widget=forms.Select(choices=[("", "---------"), *Sex.choices]))
    birth_date = forms.CharField(label=_("出生日期"), required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    grade = forms.CharField(label=_("年级"), required=False)
    class_name = forms.CharField(label=_("班级"), required=False)
    medical_assistance = forms.CharField(label=_("医疗救助"), required=False, widget=forms.Select(choices=MedicalAssistance.choices))

    class Meta:
        model = Student
        fields = [*STUDENT_FIELDS, "school"]

    def clean(self):
        from enrollment.services.students import school_year

        data = super().clean()
        school = data.get("school") or getattr(self.instance, "school", None)
        if school is not None:
            values, errors = rules.check_student(data, final_grade=school.final_grade)
            for field, message in errors.items():
                self.add_error(field if field in self.fields else None, message)
            data.update({k: v for k, v in values.items() if k not in errors})
        school = data.get("school") or getattr(self.instance, "school", None)
        if school is not None:
            try:
                # The same window and roster rules as the portal: the service enforces them again on save.
                year = school_year(school)
                check_window_open(insurance_year=year)
            except ValidationError as exc:
                raise ValidationError(exc.messages) from exc
            roster = Roster.objects.filter(school=school, insurance_year=year).first()
            if roster is not None and roster.state != RosterState.OPEN and not self._late(roster=roster, year=year):
                # A confirmed roster is frozen: say why instead of failing on save (the service raises RosterLocked).
                raise ValidationError(
                    _("%(school)s的%(year)s参保名单已确认（状态：%(state)s），不能再修改学生信息；"
                      "如需修改请先在“参保名单”中退回该名单。")
                    % {"school": school.name, "year": year.label, "state": roster.get_state_display()},
                    code="roster_locked",
                )
        return data

    def _late(self, *, roster, year) -> bool:
        """A new student, or one on no confirmation yet, goes to the roster's supplementary confirmation (late students)."""
        from enrollment.models import Enrollment
        from enrollment.services.enrollments import enrollment_is_late

        existing = None
        if self.instance.pk is not None:
            existing = Enrollment.objects.filter(student_id=self.instance.pk, insurance_year=year).first()
        return enrollment_is_late(enrollment=existing, roster=roster)


@admin.register(Student)
class StudentAdmin(ScopedModelAdmin):
    form = StudentAdminForm
    list_display = ["name", "masked_identity", "sex", "school", "grade", "class_name", "status", "hukou_rural",
                    "medical_assistance", "has_citizen_card"]
    list_filter = ["status", "hukou_local", "hukou_rural", "medical_assistance", "public_funded_care",
                   "has_citizen_card", ("school", admin.RelatedOnlyFieldListFilter)]
    # Exact match on the number (a prefix search would let anyone enumerate numbers).
    search_fields = ["=identity_number", "name", "class_name"]
    search_help_text = _("按姓名、班级或完整的身份证号码查找")
    list_select_related = ["school"]
    autocomplete_fields = ["school"]
    fieldsets = [
        (None, {"fields": ["document_type", "identity_number", "name", "sex", "birth_date"]}),
        (_("户籍与身份"), {"fields": ["hukou_local", "hukou_rural", "medical_assistance", "public_funded_care"]}),
        (_("在校情况"), {"fields": ["school", "grade", "class_name", "status", "status_changed_on", "has_citizen_card"]}),
        (_("记录"), {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # A student never moves school silently, and leaving or graduating is recorded by its own service.
        readonly = ["status", "status_changed_on", "created_at", "updated_at"]
        return readonly + ["school"] if obj is not None else readonly

    def save_model(self, request, obj, form, change):
        from enrollment.services.students import student_create, student_update

        actor = Actor(user=request.user, source=AuditEvent.Source.ADMIN)
        data = {field: form.cleaned_data.get(field) for field in STUDENT_FIELDS}
        if change:
            saved = student_update(actor=actor, student=Student.objects.get(pk=obj.pk), data=data)
        else:
            saved = student_create(actor=actor, school=form.cleaned_data["school"], data=data)
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.display(description=_("身份证号码"), ordering="identity_number")
    def masked_identity(self, obj):
        return identity.mask(obj.identity_number)

    def get_search_results(self, request, queryset, search_term):
        # People paste numbers with full-width digits, spaces or a lowercase x.
        normalized = identity.normalize(search_term)
        if len(normalized) == 18 and normalized[:17].isdigit():
            search_term = normalized
        return super().get_search_results(request, queryset, search_term)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and getattr(response, "status_code", None) == 200:
            # The change page shows the full identity number: record who looked (PIPL).
            PersonalDataAccess.objects.create(
                user=request.user,
                action=PersonalDataAccess.Action.ADMIN_VIEW_STUDENT,
                target=f"student:{object_id}",
                record_count=1,
                ip_address=request.META.get("REMOTE_ADDR") or None,
            )
        return response


@admin.register(CitizenCard)
class CitizenCardAdmin(ScopedModelAdmin):
    list_display = ["student", "school_name", "state", "photo_uploaded_at", "sent_at", "picked_up_on"]
    list_filter = ["state"]
    search_fields = ["=student__identity_number", "student__name"]
    list_select_related = ["student__school"]
    # Photos are private files served only through the portal's access-checked views.
    exclude = ["photo"]
    actions = ["mark_ready", "mark_picked_up"]

    def get_readonly_fields(self, request, obj=None):
        # States move only through the card services (photo upload, export, ready, pickup), never by editing.
        return ["student", "state", "photo_uploaded_at", "sent_at", "picked_up_on"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        pass

    def _run(self, request, queryset, service):
        actor = Actor(user=request.user, source=AuditEvent.Source.ADMIN)
        done = 0
        for card in queryset.select_related("student"):
            try:
                service(actor=actor, card=card)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{card.student.name}：{' '.join(exc.messages)}", level="error")
        if done:
            self.message_user(request, _("已处理%(count)d张市民卡。") % {"count": done})

    @admin.action(description=_("标记为待领取"), permissions=["change"])
    def mark_ready(self, request, queryset):
        from enrollment.services.cards import card_mark_ready

        self._run(request, queryset, card_mark_ready)

    @admin.action(description=_("登记已领取"), permissions=["change"])
    def mark_picked_up(self, request, queryset):
        from enrollment.services.cards import card_mark_picked_up

        self._run(request, queryset, card_mark_picked_up)

    @admin.display(description=_("学校"), ordering="student__school__name")
    def school_name(self, obj):
        return obj.student.school.name


# --- Jobs -----------------------------------------------------------------


@admin.register(Job)
class JobAdmin(ScopedModelAdmin):
    list_display = ["created_at", "kind", "state", "school", "insurance_year", "created_by", "progress", "total", "attempts",
                    "heartbeat_at", "error"]
    list_filter = ["kind", "state"]
    search_fields = ["school__name", "created_by__username", "input_name"]
    list_select_related = ["school", "insurance_year__city", "created_by"]
    date_hierarchy = "created_at"
    exclude = ["input_file", "output_file"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
