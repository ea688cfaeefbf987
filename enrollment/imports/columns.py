"""The columns of a student list and the header spellings schools actually use."""

import re
import unicodedata

from django.utils.translation import gettext_lazy as _

# field -> (label shown in messages and the template, accepted header spellings)
COLUMNS: dict[str, tuple] = {
    "identity_number": (_("身份证号码"), ["身份证号码", "身份证号", "公民身份号码", "身份证", "身份证件号码", "证件号码", "居民身份证号码"]),
    "document_type": (_("证件类型"), ["证件类型", "证件种类", "身份证件类型", "证件名称"]),
    "name": (_("姓名"), ["姓名", "学生姓名", "名字"]),
    "sex": (_("性别"), ["性别", "学生性别"]),
    "birth_date": (_("出生日期"), ["出生日期", "出生年月日", "出生年月", "生日"]),
    "grade": (_("年级"), ["年级", "所在年级", "就读年级"]),
    "class_name": (_("班级"), ["班级", "班别", "班级名称", "所在班级"]),
    "hukou": (_("户籍"), ["户籍", "户口性质", "户籍性质", "户籍类型", "户口类型", "户籍所在地", "户口"]),
    "medical_assistance": (_("医疗救助"), ["医疗救助", "医疗救助对象", "医疗救助类别"]),
    "public_funded_care": (_("公费医疗"), ["公费医疗", "享受公费医疗"]),
    "has_citizen_card": (_("已有市民卡"), ["已有市民卡", "市民卡", "社保卡", "已有社保卡"]),
}
REQUIRED = ["identity_number", "name", "sex", "birth_date", "grade"]
TEMPLATE_ORDER = ["name", "document_type", "identity_number", "sex", "birth_date", "grade", "class_name", "hukou", "medical_assistance", "public_funded_care", "has_citizen_card"]

_NOTE = re.compile(r"[（(\[【].*?[）)\]】]")
_LOOKUP = {variant: field for field, (_label, variants) in COLUMNS.items() for variant in variants}


def clean_header(value) -> str:
    text = unicodedata.normalize("NFKC", str(value or ""))
    text = _NOTE.sub("", text)
    return "".join(text.split()).strip("*＊:：")


def field_for(value) -> str | None:
    return _LOOKUP.get(clean_header(value))


def label(field: str) -> str:
    return str(COLUMNS[field][0])
