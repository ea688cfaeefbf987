"""The rules for each field of a student, one function per field: the same verdict on every path.

The portal form, the API serializer, the admin form, the student services and
the spreadsheet import all call these functions, so a value refused by one is
refused by all with the same message, and a value accepted is normalised the
same way (no path cuts a long name; every path takes a blank sex or birth date
from the document number, which carries them).

Each function takes the raw value as typed, pasted or read from a cell and
returns the normalised value, or raises ``ValidationError`` with a message in
Chinese for people. ``check_student`` runs them all over a dict of raw values.
"""

import datetime
import functools
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment import identity
from enrollment.models import MedicalAssistance, Sex

NAME_MAX = 50
CLASS_NAME_MAX = 50

_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
_DOTS = str.maketrans({"•": "·", "･": "·", "・": "·", "．": "·", ".": "·", "‧": "·", "∙": "·", "﹒": "·"})
_SEXES = {"男": Sex.MALE, "男性": Sex.MALE, "M": Sex.MALE, "女": Sex.FEMALE, "女性": Sex.FEMALE, "F": Sex.FEMALE}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十一": 11, "十二": 12}
_GRADE_PREFIX = {"小": 0, "初": 6, "高": 9}
_TRUE = {"是", "有", "y", "yes", "true", "1", "√", "已有"}
_FALSE = {"", "否", "无", "n", "no", "false", "0", "没有", "未有"}
_NON_LOCAL = ("非本市", "外市", "外省", "非本地", "外地", "省外", "市外")

# Fields in the order they are checked (a later check may use an earlier value).
FIELDS = ("document_type", "identity_number", "name", "sex", "birth_date", "grade", "class_name", "hukou_local", "hukou_rural",
          "medical_assistance", "public_funded_care", "has_citizen_card")


# Types of raw values a rule's verdict may be remembered for (the type is part of the key: 1 and True are
# equal as keys, not as values). A list or dict sent to the API is checked afresh each time.
_MEMO_TYPES = frozenset({str, int, float, bool, type(None), datetime.date, datetime.datetime})
_MEMO_SIZE = 4096


def _memo(rule):
    """Remember the normalised value a one-argument rule returns for each raw value (refusals are not
    remembered: their message is made in the language of the moment). A 50,000-row import repeats a
    few dozen class names, grades, dates and hukou texts; checking each once is what makes it fast."""
    # A plain dict, emptied when full: lru_cache's bookkeeping and a second call layer cost
    # more per row than the lookup itself.
    cache: dict = {}

    @functools.wraps(rule)
    def remembered(value):
        kind = type(value)
        if kind not in _MEMO_TYPES:
            return rule(value)
        key = (kind, value)
        try:
            return cache[key]
        except KeyError:
            pass
        found = rule(value)
        if len(cache) >= _MEMO_SIZE:
            cache.clear()
        cache[key] = found
        return found

    remembered.cache_clear = cache.clear
    return remembered


def _fail(message: str, code: str = "invalid"):
    raise ValidationError(message, code=code)


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value) -> str:
    """A cell or form value as trimmed text (whole floats from Excel without ``.0``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip() if value is not None else ""


def document_type(value) -> str:
    """A document type code, or "" when the number should tell."""
    return identity.document_type_of(value)


def identity_number(value, *, document_type: str = "", today: datetime.date | None = None) -> identity.Document:
    """The document the number is, with its normalised number, birth date and sex."""
    if isinstance(value, int | float) and not isinstance(value, bool) or (isinstance(value, str) and _SCIENTIFIC.match(value.strip())):
        _fail(_("身份证号码被 Excel 存成了数字，后几位已经丢失（变成0或科学计数法）。请把该列单元格格式设置为“文本”，重新填写完整号码后再导入。"),
              "excel_number")
    return identity.parse(value, document_type or None, today=today)


@functools.lru_cache(maxsize=8192)
def _name_character(char: str) -> bool:
    """A character a name on an identity document may hold: a CJK ideograph of any block (Extension B
    included), the middle dot of minority names, a Latin letter or a space of a foreign name."""
    if char in " ·〇":
        return True
    label = unicodedata.name(char, "")
    return label.startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")) or (
        label.startswith("LATIN ") and unicodedata.category(char).startswith("L")
    )


_COMMON_NAME = re.compile("[\u4e00-\u9fff· 〇]+")


def name(value) -> str:
    # No NFKC here: it would rewrite CJK compatibility ideographs, which some registered names use.
    cleaned = " ".join(("" if value is None else str(value)).translate(_DOTS).split())
    if not cleaned:
        _fail(_("姓名不能为空。"), "required")
    if len(cleaned) > NAME_MAX:
        _fail(_("姓名过长（超过%(max)d个字）。") % {"max": NAME_MAX}, "too_long")
    if _COMMON_NAME.fullmatch(cleaned):  # CJK Unified Ideographs (U+4E00-U+9FFF), the dot, the space: all allowed
        return cleaned
    wrong = next((char for char in cleaned if not _name_character(char)), None)
    if wrong is not None:
        _fail(_("姓名中不能有“%(char)s”：姓名只能由汉字、少数民族姓名的间隔号“·”、外文字母和空格组成。") % {"char": wrong}, "characters")
    return cleaned


@_memo
def sex(value) -> str:
    raw = text(value).upper()
    found = _SEXES.get(raw)
    if found is None:
        _fail(_("性别应填“男”或“女”，实际为“%(v)s”。") % {"v": raw} if raw else _("性别不能为空。"), "invalid" if raw else "required")
    return str(found)


@_memo
def _date(value) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if blank(value) or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        raw = str(int(value))
    else:
        raw = unicodedata.normalize("NFKC", str(value)).strip().split(" ")[0]
    if len(raw) == 10 and raw[4] == "-" and raw[7] == "-":
        # The template's format: fromisoformat is many times faster than strptime, which a large import feels.
        try:
            return datetime.date.fromisoformat(raw)
        except ValueError:
            pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    return None


def birth_date(value, *, today: datetime.date | None = None) -> datetime.date:
    found = _date(value)
    if found is None:
        raw = text(value)
        _fail(_("出生日期“%(v)s”无法识别，请写成 2010-03-15 的格式。") % {"v": raw} if raw else _("出生日期不能为空。"),
              "invalid" if raw else "required")
    if found > (today or timezone.localdate()):
        _fail(_("出生日期%(d)s晚于今天。") % {"d": found.isoformat()}, "future")
    return found


@_memo
def _grade(value) -> int | None:
    if isinstance(value, bool) or blank(value):
        return None
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() else None
    raw = unicodedata.normalize("NFKC", str(value)).strip().replace("年级", "").replace("级", "")
    if raw.isdigit():
        return int(raw)
    offset = 0
    if raw[:1] in _GRADE_PREFIX:
        offset, raw = _GRADE_PREFIX[raw[0]], raw[1:]
    if raw.isdigit():
        return int(raw) + offset
    if raw in _CN_DIGITS:
        return _CN_DIGITS[raw] + offset
    return None


def grade(value, *, final_grade: int) -> int:
    found = _grade(value)
    if found is None:
        raw = text(value)
        _fail(_("年级“%(v)s”无法识别，请填写数字1至%(max)d。") % {"v": raw, "max": final_grade} if raw else _("年级不能为空。"),
              "invalid" if raw else "required")
    if not 1 <= found <= final_grade:
        _fail(_("年级%(g)d超出本校年级范围（1至%(max)d）。") % {"g": found, "max": final_grade}, "range")
    return found


# Markup and formula characters: a class name is shown in pages and written into spreadsheets.
_CLASS_NAME_REFUSED = set('<>{}[]\\|&;=+@$%^*"`')


@_memo
def class_name(value) -> str:
    cleaned = text(value)
    if len(cleaned) > CLASS_NAME_MAX:
        _fail(_("班级名称过长（超过%(max)d个字）。") % {"max": CLASS_NAME_MAX}, "too_long")
    wrong = next((char for char in cleaned if char in _CLASS_NAME_REFUSED or unicodedata.category(char).startswith("C")), None)
    if wrong is not None:
        _fail(_("班级名称中不能有“%(char)s”：请只用汉字、字母、数字、空格和括号、横线等常用符号。") % {"char": wrong}, "characters")
    return cleaned


@_memo
def hukou(value) -> tuple[bool, bool]:
    """(local, rural) from the hukou text of a list (本市城镇, 外省农村...)."""
    raw = text(value)
    return not any(word in raw for word in _NON_LOCAL), ("农村" in raw or "农业" in raw) and "非农" not in raw


@_memo
def medical_assistance(value) -> str:
    raw = text(value)
    if raw in MedicalAssistance.values:
        return raw
    if raw.lower() in _FALSE:
        return MedicalAssistance.NONE
    if "民政" in raw:
        return MedicalAssistance.CIVIL_AFFAIRS
    if "残联" in raw or "残疾人联合会" in raw:
        return MedicalAssistance.DISABLED_FEDERATION
    _fail(_("医疗救助应填“民政”“残联”或留空，实际为“%(v)s”。") % {"v": raw})


@_memo
def flag(value) -> bool:
    """Yes or no: a tick box's bool, or 是/否 and their spellings."""
    if isinstance(value, bool):
        return value
    raw = text(value).lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    _fail(_("应填“是”或“否”，实际为“%(v)s”。") % {"v": raw})


def consistency(document: identity.Document, *, birth: datetime.date | None, sex_code: str | None) -> dict[str, str]:
    """Birth date and sex given beside the number must be the ones it carries: {field: message}."""
    errors = {}
    if birth is not None and document.birth_date is not None and birth != document.birth_date:
        errors["birth_date"] = _("出生日期与证件号码不一致（号码中为%(date)s）。") % {"date": document.birth_date.isoformat()}
    if sex_code is not None and document.sex is not None and sex_code != document.sex:
        errors["sex"] = _("性别与证件号码不一致（号码表示%(sex)s）。") % {"sex": _("男") if document.sex == Sex.MALE else _("女")}
    return errors


def _run(errors: dict, field: str, rule, *args, **kwargs):
    try:
        return rule(*args, **kwargs)
    except ValidationError as exc:
        errors[field] = exc.messages[0]
        return None


def check_student(data: dict, *, final_grade: int, today: datetime.date | None = None) -> tuple[dict, dict[str, str]]:
    """Run every field's rule over the raw values given: (normalised values, {field: first message}).

    Fields absent from ``data`` are neither checked nor returned (an import of
    a file without a class column never blanks the class), apart from the
    required ones: document number, name, sex, birth date and grade (sex and
    birth date may be left blank when the number carries them).
    ``hukou`` (a list's text column) may stand for ``hukou_local``/``hukou_rural``.
    """
    today = today or timezone.localdate()
    values: dict = {}
    errors: dict[str, str] = {}

    kind = ""
    if "document_type" in data:
        kind = _run(errors, "document_type", document_type, data["document_type"]) or ""
    # Most rows of a list: a plainly typed resident ID number, checked in one call; any other
    # number (or a failing one) goes through every rule below, which names what is wrong.
    document = identity.resident_id_if_plain(data.get("identity_number"), today) if not kind else None
    if document is None and "document_type" not in errors:
        try:
            document = identity_number(data.get("identity_number"), document_type=kind, today=today)
        except ValidationError as exc:
            errors["identity_number"] = exc.messages[0]
    if document is not None:
        values["identity_number"] = document.number
        values["document_type"] = document.type
    # The required fields' rules are called inline, not through ``_run``: one call layer less per
    # field and row is a large share of a 50,000-row import's validation.
    try:
        values["name"] = name(data.get("name"))
    except ValidationError as exc:
        errors["name"] = exc.messages[0]
        values["name"] = None
    # A blank sex or birth date is the one the number carries, on every path (a passport carries neither).
    raw_sex, raw_birth = data.get("sex"), data.get("birth_date")
    if document is not None and document.sex and blank(raw_sex):
        values["sex"] = document.sex
    else:
        try:
            values["sex"] = sex(raw_sex)
        except ValidationError as exc:
            errors["sex"] = exc.messages[0]
            values["sex"] = None
    if document is not None and document.birth_date and blank(raw_birth):
        values["birth_date"] = document.birth_date
    else:
        try:
            values["birth_date"] = birth_date(raw_birth, today=today)
        except ValidationError as exc:
            errors["birth_date"] = exc.messages[0]
            values["birth_date"] = None
    if document is not None and (
        (values["birth_date"] is not None and document.birth_date is not None and values["birth_date"] != document.birth_date)
        or (values["sex"] is not None and document.sex is not None and values["sex"] != document.sex)
    ):
        for field, message in consistency(document, birth=values["birth_date"], sex_code=values["sex"]).items():
            errors.setdefault(field, message)
    try:
        values["grade"] = grade(data.get("grade"), final_grade=final_grade)
    except ValidationError as exc:
        errors["grade"] = exc.messages[0]
        values["grade"] = None
    if "class_name" in data:
        try:
            values["class_name"] = class_name(data["class_name"])
        except ValidationError as exc:
            errors["class_name"] = exc.messages[0]
            values["class_name"] = None
    if "hukou" in data:
        values["hukou_local"], values["hukou_rural"] = hukou(data["hukou"])
    for field in ("hukou_local", "hukou_rural", "public_funded_care", "has_citizen_card"):
        if field in data:
            values[field] = _run(errors, field, flag, data[field])
    if "medical_assistance" in data:
        values["medical_assistance"] = _run(errors, "medical_assistance", medical_assistance, data["medical_assistance"])
    return values, errors
