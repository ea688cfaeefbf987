from django import forms
from django.utils.translation import gettext_lazy as _

from coordinators.models import Coordinator
from enrollment.models import MedicalAssistance, Sex, StudentStatus
from enrollment.services.students import MODE_PARTIAL, MODE_STRICT


class StudentForm(forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=50)
    identity_number = forms.CharField(label=_("身份证号码"), max_length=30)
    sex = forms.ChoiceField(label=_("性别"), choices=Sex.choices)
    # A date input reads only ISO dates; the locale's format ("2014/07/01") would leave it empty.
    birth_date = forms.DateField(label=_("出生日期"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    grade = forms.IntegerField(label=_("年级"), min_value=1)
    class_name = forms.CharField(label=_("班级"), max_length=50, required=False)
    hukou_local = forms.BooleanField(label=_("本市户籍"), required=False, initial=True)
    hukou_rural = forms.BooleanField(label=_("农村户籍"), required=False)
    medical_assistance = forms.ChoiceField(label=_("医疗救助"), choices=MedicalAssistance.choices, required=False)
    public_funded_care = forms.BooleanField(label=_("公费医疗"), required=False)
    has_citizen_card = forms.BooleanField(label=_("已有市民卡"), required=False)


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


class RemoveForm(forms.Form):
    reason = forms.CharField(label=_("剔除原因"), max_length=200, initial=_("已毕业"))


class CoordinatorForm(forms.ModelForm):
    class Meta:
        model = Coordinator
        fields = ["name", "gender", "department", "post", "work_phone", "mobile", "email"]
