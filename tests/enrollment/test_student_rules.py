"""The per-field student rules give the same verdict through the portal form, the API, the admin form and the import."""

import datetime

import pytest

from coordinators.forms import StudentForm
from enrollment import identity, rules
from enrollment.admin.reference import StudentAdminForm
from enrollment.api.serializers import StudentInputSerializer
from enrollment.imports.reader import Table
from enrollment.imports.validate import parse

BIRTH = datetime.date(2012, 4, 1)
NUMBER = identity.generate(region="440104", birth=BIRTH, sequence=123)  # odd sequence: male
HEADER = ["姓名", "证件类型", "身份证号码", "性别", "出生日期", "年级", "班级"]
FIELDS = ["name", "document_type", "identity_number", "sex", "birth_date", "grade", "class_name"]


def good(**changes) -> dict:
    return {"name": "李  小明", "document_type": "", "identity_number": NUMBER, "sex": "男", "birth_date": "2012-04-01",
            "grade": "5", "class_name": "5班", **changes}


def through_form(world, data):
    form = StudentForm(data=data, school=world.school)
    form.is_valid()
    return {f: form.errors[f][0] for f in form.errors}


def through_api(world, data):
    serializer = StudentInputSerializer(data=data, context={"school": world.school})
    serializer.is_valid()
    return {f: str(m[0]) for f, m in serializer.errors.items()}


def through_admin(world, data):
    form = StudentAdminForm(data={**data, "school": world.school.pk})
    form.is_valid()
    return {f: form.errors[f][0] for f in form.errors}


def through_import(world, data):
    row = [data[f] for f in FIELDS]
    parsed = parse(Table(sheet="", total=2, rows=iter([HEADER, row])), final_grade=world.school.final_grade)
    columns = {str(rules_label): f for f, rules_label in zip(FIELDS, HEADER, strict=True)}
    return {columns[e.column]: e.message for e in parsed.errors}


PATHS = [through_form, through_api, through_admin, through_import]

BAD = {
    "a name longer than 50 characters": (good(name="李" * 51), "name", "姓名过长（超过50个字）。"),
    "a blank name": (good(name="  "), "name", "姓名不能为空。"),
    "a passport holder's missing sex (a passport number does not carry it)": (
        good(document_type="护照", identity_number="E1234567", sex=""), "sex", "性别不能为空。",
    ),
    "a sex other than the number's": (good(sex="女"), "sex", "性别与证件号码不一致（号码表示男）。"),
    "a birth date other than the number's": (good(birth_date="2012-04-02"), "birth_date", "出生日期与证件号码不一致（号码中为2012-04-01）。"),
    "an unreadable birth date": (good(birth_date="四月一日"), "birth_date", "出生日期“四月一日”无法识别，请写成 2010-03-15 的格式。"),
    "a grade beyond the school's last": (good(grade="15"), "grade", "年级15超出本校年级范围（1至12）。"),
    "an unknown county code": (
        good(identity_number=identity.generate(region="449999", birth=BIRTH, sequence=123)), "identity_number",
        "身份证号码前6位地区代码“449999”不存在，请核对号码。",
    ),
    "a wrong check character": (
        good(identity_number=NUMBER[:17] + ("0" if NUMBER[17] != "0" else "1")), "identity_number",
        f"证件号码校验位错误：最后一位应为“{NUMBER[17]}”，实际为“{'0' if NUMBER[17] != '0' else '1'}”，请核对号码。",
    ),
    "a passport number without the passport type": (good(identity_number="E1234567"), "identity_number", "身份证号码应为18位，实际为8位。"),
    "an unknown document type": (good(document_type="驾驶证"), "document_type", None),
    "a class name longer than 50 characters": (good(class_name="班" * 51), "class_name", "班级名称过长（超过50个字）。"),
    "a name with markup": (good(name="<b>李</b>"), "name", "姓名中不能有“<”：姓名只能由汉字、少数民族姓名的间隔号“·”、外文字母和空格组成。"),
    "a name that is a formula": (good(name="=HYPERLINK(1)"), "name", "姓名中不能有“=”：姓名只能由汉字、少数民族姓名的间隔号“·”、外文字母和空格组成。"),
    "a name with digits": (good(name="李明2"), "name", "姓名中不能有“2”：姓名只能由汉字、少数民族姓名的间隔号“·”、外文字母和空格组成。"),
    "a class name that is a formula": (good(class_name="=1+1"), "class_name", "班级名称中不能有“=”：请只用汉字、字母、数字、空格和括号、横线等常用符号。"),
    "a class name with markup": (good(class_name="<script>"), "class_name", "班级名称中不能有“<”：请只用汉字、字母、数字、空格和括号、横线等常用符号。"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_value_gets_the_same_verdict_on_every_path(world, case):
    data, field, message = BAD[case]
    verdicts = {path.__name__: path(world, data) for path in PATHS}
    expected = message or rules.check_student(data, final_grade=world.school.final_grade)[1][field]
    for path, errors in verdicts.items():
        assert errors == {field: expected}, path


def test_good_values_are_accepted_and_normalised_alike_on_every_path(world):
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in NUMBER)
    data = good(identity_number=full_width, sex="", birth_date="")  # both taken from the number on every path
    for path in PATHS:
        assert path(world, data) == {}, path.__name__
    form = StudentForm(data=data, school=world.school)
    assert form.is_valid()
    serializer = StudentInputSerializer(data=data, context={"school": world.school})
    assert serializer.is_valid()
    parsed = parse(Table(sheet="", total=2, rows=iter([HEADER, [data[f] for f in FIELDS]])), final_grade=world.school.final_grade)
    imported = {"identity_number": next(iter(parsed.valid)), **parsed.valid[NUMBER]}
    for values in (form.cleaned_data, serializer.validated_data, imported):
        assert values["identity_number"] == NUMBER
        assert values["name"] == "李 小明"
        assert (values["sex"], values["birth_date"], values["grade"], values["document_type"]) == ("M", BIRTH, 5, "resident_id")


@pytest.mark.parametrize("written, kept", [
    ("李小明", "李小明"),
    ("𠀀𪚥", "𠀀𪚥"),  # CJK Extension B
    ("买买提.艾力", "买买提·艾力"),  # the middle dot of a minority name, typed as a full stop
    ("John  Smith", "John Smith"),
    ("Zoë Müller", "Zoë Müller"),
])
def test_names_of_identity_documents_are_accepted(written, kept):
    assert rules.name(written) == kept
