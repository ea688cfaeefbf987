from django import forms
from django.utils.translation import gettext_lazy as _

from coordinators.models import Coordinator
from enrollment import rules
from enrollment.identity import DocumentType
from enrollment.models import MedicalAssistance, Sex, StudentStatus
from enrollment.services.students import MODE_PARTIAL, MODE_STRICT


class StudentForm(forms.Form):
    """A student as typed in the portal. The fields only collect text: ``enrollment.rules`` decides what is valid,
    exactly as for the API, the admin site and the import, so no value is cut or guessed here."""

    # Select widgets on plain text fields: a value outside the list gets the rules' message, not the form's.
    document_type = forms.CharField(
        label=_("证件类型"), required=False, widget=forms.Select(choices=[("", _("按号码自动识别")), *DocumentType.choices]),
    )
    name = forms.CharField(label=_("姓名"), required=False, strip=False)
    identity_number = forms.CharField(label=_("证件号码"), required=False)
    sex = forms.CharField(label=_("性别"), required=False, widget=forms.Select(choices=[("", "---------"), *Sex.choices]))
    # A date input reads only ISO dates; the locale's format ("2014/07/01") would leave it empty.
    birth_date = forms.CharField(label=_("出生日期"), required=False, widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    grade = forms.CharField(label=_("年级"), required=False, widget=forms.NumberInput(attrs={"min": 1}))
    class_name = forms.CharField(label=_("班级"), required=False)
    hukou_local = forms.BooleanField(label=_("本市户籍"), required=False, initial=True)
    hukou_rural = forms.BooleanField(label=_("农村户籍"), required=False)
    medical_assistance = forms.CharField(label=_("医疗救助"), required=False, widget=forms.Select(choices=MedicalAssistance.choices))
    public_funded_care = forms.BooleanField(label=_("公费医疗"), required=False)
    has_citizen_card = forms.BooleanField(label=_("已有市民卡"), required=False)

    def __init__(self, *args, school=None, **kwargs):
        self.school = school
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if self.school is None:
            return data
        values, errors = rules.check_student(data, final_grade=self.school.final_grade)
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
        return {**data, **{k: v for k, v in values.items() if k not in errors}}


class StudentStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("在校状态"), choices=StudentStatus.choices)
    on = forms.DateField(label=_("变更日期"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))


class ImportForm(forms.Form):
    file = forms.FileField(label=_("学生名单文件（.xlsx、.xls、.csv）"))
    mode = forms.ChoiceField(
        label=_("有错误行时"),
        choices=[(MODE_STRICT, _("全部不导入（推荐）")), (MODE_PARTIAL, _("只导入正确的行"))],
        initial=MODE_STRICT,
        widget=forms.RadioSelect,
    )


class ConfirmForm(forms.Form):
    checked = forms.BooleanField(label=_("已核对名单"), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)
    suspected_acknowledged = forms.IntegerField(required=False, min_value=0)


class RemoveForm(forms.Form):
    reason = forms.CharField(label=_("剔除原因"), max_length=200, initial=_("已毕业"))


class CoordinatorForm(forms.ModelForm):
    class Meta:
        model = Coordinator
        fields = ["name", "gender", "department", "post", "work_phone", "mobile", "email"]


class CoverageLookupForm(forms.Form):
    """The full identity number of one student, for the coverage lookup (exact match; never echoed back)."""

    identity_number = forms.CharField(label=_("证件号码"), max_length=40, strip=True)

    def clean_identity_number(self):
        from enrollment.identity import validate

        return validate(self.cleaned_data["identity_number"])
