"""Identity documents students carry, and the one validator every path uses.

Accepted documents (R21):

- mainland resident identity card, GB 11643-1999: 6-digit region code, birth
  date, sequence whose parity gives the sex, ISO 7064 MOD 11-2 check character;
- Hong Kong, Macao and Taiwan residents' residence permits: the same structure
  with the region code 810000, 820000 or 830000, whatever the birth year;
- foreigners' permanent residence identity cards: the 2017 format (18 digits:
  ``9``, province code, 3-digit nationality code, birth date, sequence, MOD
  11-2 check character) and the older 15-character format (3-letter
  nationality code, 4-digit issuing-place code, YYMMDD birth date, sex digit,
  check digit computed as in machine-readable travel documents);
- passports: letters and digits only; a passport holder is not in the school's
  residents' insurance and is routed out of the roster.

A region code valid in any year is accepted: numbers of districts created after
the holder's birth exist (late registration, e.g. Guangzhou 440117/440118 from
2014, Suzhou 320508/320509 from 2012), so the year ranges of python-stdnum's
table are not applied. Unknown codes are refused with a message, never by an
exception from the lookup. Any Unicode decimal digit (full-width from Excel,
other scripts) becomes its ASCII digit; any other non-ASCII character is refused.
"""

import datetime
import functools
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

SEX_MALE = "M"
SEX_FEMALE = "F"

HMT_REGIONS = {"810000": gettext_lazy("香港"), "820000": gettext_lazy("澳门"), "830000": gettext_lazy("台湾")}


class DocumentType(models.TextChoices):
    RESIDENT_ID = "resident_id", gettext_lazy("居民身份证")
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit", gettext_lazy("港澳台居民居住证")
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence", gettext_lazy("外国人永久居留身份证")
    PASSPORT = "passport", gettext_lazy("护照")


# Document types whose holders are not in the school's residents' insurance (routed out of the roster).
OUTSIDE_SCHEME = frozenset({DocumentType.PASSPORT})

# What the database accepts per document type (kept in step with the Student model's check constraint).
NUMBER_PATTERNS = {
    DocumentType.RESIDENT_ID: r"^[0-9]{17}[0-9X]$",
    DocumentType.HMT_RESIDENCE_PERMIT: r"^8[123]0000[0-9]{11}[0-9X]$",
    DocumentType.FOREIGN_PERMANENT_RESIDENCE: r"^([A-Z]{3}[0-9]{12}|9[0-9]{16}[0-9X])$",
    DocumentType.PASSPORT: r"^[A-Z0-9]{5,18}$",
}

# Lazy: translated only when an error message is built (a 50,000-row import must not translate them per row).
_NOUN_ID_CARD = gettext_lazy("身份证号码")
_NOUN_PERMIT = gettext_lazy("居住证号码")
_NOUN_PERMANENT = gettext_lazy("永久居留身份证号码")
_POSITIONS_18 = gettext_lazy("第7-14")
_POSITIONS_15 = gettext_lazy("第8-13")

_PASSPORT = re.compile(NUMBER_PATTERNS[DocumentType.PASSPORT])
# The common case of a large import: 17 ASCII digits and a check character, told from its form alone.
_GB11643_FORM = re.compile(r"[0-9]{17}[0-9X]")
_WEIGHTS_MRZ = (7, 3, 1)


@dataclass(frozen=True)
class Document:
    type: str
    number: str
    birth_date: datetime.date | None
    sex: str | None


def _ascii_digits(text: str) -> str:
    out = []
    for ch in text:
        if not ch.isascii():
            value = unicodedata.decimal(ch, None)
            if value is not None:
                ch = str(value)
        out.append(ch)
    return "".join(out)


def normalize(raw: object) -> str:
    """What people type or paste: full-width or other-script digits become ASCII, spaces go, letters upper case."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = str(raw)
    if not text.isascii():
        text = _ascii_digits(unicodedata.normalize("NFKC", text))
    return "".join(text.split()).upper()


def detect(number: str) -> str:
    """The document type a normalised number has the form of (passports cannot be told apart: never detected)."""
    if len(number) == 15 and number[:3].isalpha() and number[3:].isdigit():
        return DocumentType.FOREIGN_PERMANENT_RESIDENCE
    if len(number) == 18 and number[0] == "9":
        return DocumentType.FOREIGN_PERMANENT_RESIDENCE
    if len(number) == 18 and number[:6] in HMT_REGIONS:
        return DocumentType.HMT_RESIDENCE_PERMIT
    return DocumentType.RESIDENT_ID


def label(document_type: str) -> str:
    return str(DocumentType(document_type).label) if document_type in DocumentType.values else str(document_type)


def mod11_2(body: str) -> str:
    """ISO 7064 MOD 11-2 check character of 17 digits."""
    checksum = (1 - 2 * int(body, 13)) % 11
    return "X" if checksum == 10 else str(checksum)


def mrz_check(body: str) -> str:
    """Check digit of machine-readable travel documents (weights 7, 3, 1; A=10 ... Z=35)."""
    total = 0
    for index, ch in enumerate(body):
        value = int(ch) if ch.isdigit() else ord(ch) - 55
        total += value * _WEIGHTS_MRZ[index % 3]
    return str(total % 10)


@functools.lru_cache(maxsize=8192)
def region_known(code: str) -> bool:
    """A 6-digit region code that exists or existed in any year."""
    from stdnum import numdb

    info = {k: v for _part, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
    return "county" in info


@functools.lru_cache(maxsize=128)
def province_known(code: str) -> bool:
    from stdnum import numdb

    return any("province" in props for _part, props in numdb.get("cn/loc").info(code + "0000"))


def _error(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def _date(digits: str) -> datetime.date | None:
    try:
        return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _check_birth(digits: str, positions: str, today: datetime.date) -> datetime.date:
    birth = _date(digits)
    if birth is None:
        raise _error(
            _("证件号码中的出生日期（%(positions)s位“%(digits)s”）不是有效日期。") % {"positions": positions, "digits": digits},
            "birth_date",
        )
    if birth > today:
        raise _error(
            _("证件号码中的出生日期（%(positions)s位“%(digits)s”）晚于今天。") % {"positions": positions, "digits": digits},
            "birth_date",
        )
    return birth


def _check_character(number: str, expected: str) -> None:
    if number[-1] != expected:
        raise _error(
            _("证件号码校验位错误：最后一位应为“%(expected)s”，实际为“%(actual)s”，请核对号码。")
            % {"expected": expected, "actual": number[-1]},
            "checksum",
        )


def _gb11643(number: str, today: datetime.date, noun: str) -> tuple[datetime.date, str]:
    """The 18-character structure shared by resident ID cards, residence permits and new permanent residence cards."""
    if len(number) == 15 and number.isdigit():
        raise _error(_("身份证号码为15位旧号码，请使用18位居民身份证号码。"), "legacy")
    if len(number) != 18:
        raise _error(_("%(noun)s应为18位，实际为%(length)d位。") % {"noun": noun, "length": len(number)}, "length")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise _error(_("证件号码前17位必须是数字，最后一位为数字或X。"), "format")
    birth = _check_birth(number[6:14], _POSITIONS_18, today)
    _check_character(number, mod11_2(number[:17]))
    return birth, SEX_MALE if int(number[16]) % 2 else SEX_FEMALE


def _resident_id(number: str, today: datetime.date) -> Document:
    if number[:6] in HMT_REGIONS:
        raise _error(_("该号码是港澳台居民居住证号码（地区代码%(region)s），证件类型应为“港澳台居民居住证”。") % {"region": number[:6]},
                     "document_type")
    birth, sex_code = _gb11643(number, today, _NOUN_ID_CARD)
    if not region_known(number[:6]):
        raise _error(_("身份证号码前6位地区代码“%(region)s”不存在，请核对号码。") % {"region": number[:6]}, "region")
    return Document(DocumentType.RESIDENT_ID, number, birth, sex_code)


def _resident_id_valid(number: str, today: datetime.date) -> Document | None:
    """The resident ID card an 18-character number of the right form is when every check passes, else None.

    The same checks as ``_resident_id`` (birth date, check character, region), without the
    layers that name what is wrong: a 50,000-row import runs this once per row.
    """
    try:
        birth = datetime.date.fromisoformat(number[6:14])  # YYYYMMDD, digits only here
    except ValueError:
        return None
    if birth > today or number[17] != mod11_2(number[:17]) or not region_known(number[:6]):
        return None
    return Document(DocumentType.RESIDENT_ID, number, birth, SEX_MALE if int(number[16]) % 2 else SEX_FEMALE)


def _hmt_permit(number: str, today: datetime.date) -> Document:
    if len(number) == 18 and number[:6] not in HMT_REGIONS:
        raise _error(
            _("港澳台居民居住证号码前6位应为810000（香港）、820000（澳门）或830000（台湾），实际为“%(region)s”。") % {"region": number[:6]},
            "region",
        )
    birth, sex_code = _gb11643(number, today, _NOUN_PERMIT)
    return Document(DocumentType.HMT_RESIDENCE_PERMIT, number, birth, sex_code)


def _foreign_permanent(number: str, today: datetime.date) -> Document:
    if len(number) == 15:
        if not (number[:3].isascii() and number[:3].isalpha() and number[3:].isdigit()):
            raise _error(_("15位外国人永久居留身份证号码应为3个字母（国籍代码）加12位数字。"), "format")
        if not province_known(number[3:5]):
            raise _error(_("永久居留身份证号码第4-7位受理地代码“%(region)s”不存在。") % {"region": number[3:7]}, "region")
        yy = int(number[7:9])
        century = 2000 if 2000 + yy <= today.year else 1900
        birth = _check_birth(f"{century + yy}{number[9:13]}", _POSITIONS_15, today)
        _check_character(number, mrz_check(number[:14]))
        return Document(DocumentType.FOREIGN_PERMANENT_RESIDENCE, number, birth, SEX_MALE if int(number[13]) % 2 else SEX_FEMALE)
    if len(number) == 18:
        if number[0] != "9":
            raise _error(_("18位外国人永久居留身份证号码应以9开头。"), "format")
        birth, sex_code = _gb11643(number, today, _NOUN_PERMANENT)
        if not province_known(number[1:3]):
            raise _error(_("永久居留身份证号码第2-3位受理地代码“%(region)s”不存在。") % {"region": number[1:3]}, "region")
        return Document(DocumentType.FOREIGN_PERMANENT_RESIDENCE, number, birth, sex_code)
    raise _error(_("外国人永久居留身份证号码应为15位或18位，实际为%(length)d位。") % {"length": len(number)}, "length")


def _passport(number: str, today: datetime.date) -> Document:
    if not _PASSPORT.match(number):
        raise _error(_("护照号码应为5至18位字母或数字。"), "format")
    return Document(DocumentType.PASSPORT, number, None, None)


_RULES = {
    DocumentType.RESIDENT_ID: _resident_id,
    DocumentType.HMT_RESIDENCE_PERMIT: _hmt_permit,
    DocumentType.FOREIGN_PERMANENT_RESIDENCE: _foreign_permanent,
    DocumentType.PASSPORT: _passport,
}

_TYPE_WORDS = {str(choice.label): choice.value for choice in DocumentType} | {
    "身份证": DocumentType.RESIDENT_ID, "居民身份证": DocumentType.RESIDENT_ID, "港澳居民居住证": DocumentType.HMT_RESIDENCE_PERMIT,
    "台湾居民居住证": DocumentType.HMT_RESIDENCE_PERMIT, "居住证": DocumentType.HMT_RESIDENCE_PERMIT,
    "外国人永久居留证": DocumentType.FOREIGN_PERMANENT_RESIDENCE, "永久居留证": DocumentType.FOREIGN_PERMANENT_RESIDENCE,
    "永久居留身份证": DocumentType.FOREIGN_PERMANENT_RESIDENCE, "外国护照": DocumentType.PASSPORT,
}


def document_type_of(raw: object) -> str:
    """A document type as a code or as people write it (证件类型 column); blank means "tell from the number"."""
    text = "".join(unicodedata.normalize("NFKC", str(raw or "")).split())
    if not text:
        return ""
    if text in DocumentType.values:
        return text
    found = _TYPE_WORDS.get(text)
    if found is None:
        raise _error(
            _("证件类型“%(value)s”无法识别，应为：%(choices)s。") % {"value": text, "choices": "、".join(str(c.label) for c in DocumentType)},
            "document_type",
        )
    return found


def resident_id_if_plain(raw: object, today: datetime.date) -> Document | None:
    """The resident ID card a plainly typed 18-character number is, when every check passes; else None.

    Plain: a str of 17 ASCII digits and a check character, nothing to normalise. Most
    numbers of a list are; anything else (and any failure) is for ``parse``, which says
    what is wrong. A 50,000-row import calls this once per row.
    """
    if (raw.__class__ is str and len(raw) == 18 and raw.isascii() and raw[:17].isdigit() and raw[0] != "9"
            and raw[:6] not in HMT_REGIONS):
        return _resident_id_valid(raw, today)
    return None


def parse(raw: object, document_type: str | None = None, *, today: datetime.date | None = None) -> Document:
    """Validate a document number; raise ValidationError saying which part is wrong.

    Without a document type the type is told from the number (passports must be
    declared); with one, the number must have that type's form.
    """
    number = normalize(raw)
    if not number:
        raise _error(_("证件号码不能为空。"), "required")
    if not number.isascii() or not number.isalnum():
        raise _error(_("证件号码只能包含数字和字母，不能含有其他字符。"), "format")
    if not document_type and _GB11643_FORM.fullmatch(number) and number[0] != "9" and number[:6] not in HMT_REGIONS:
        document = _resident_id_valid(number, today or timezone.localdate())
        if document is not None:
            return document
        # Not valid: the full checks below say which part is wrong, in their order.
    kind = document_type or detect(number)
    rule = _RULES.get(kind)
    if rule is None:
        raise _error(_("证件类型“%(value)s”无效。") % {"value": kind}, "document_type")
    return rule(number, today or timezone.localdate())


def validate(raw: object, document_type: str | None = None) -> str:
    """Return the normalised number or raise ValidationError with a message for people."""
    return parse(raw, document_type).number


def birth_date(number: str) -> datetime.date | None:
    """The birth date a validated number carries (None for passports)."""
    if len(number) == 15 and number[:3].isalpha():
        yy = int(number[7:9])
        return datetime.date((2000 if 2000 + yy <= timezone.localdate().year else 1900) + yy, int(number[9:11]), int(number[11:13]))
    if len(number) == 18 and number[:17].isdigit():
        return _date(number[6:14])
    return None


def sex(number: str) -> str | None:
    """The sex a validated number carries (None for passports)."""
    if len(number) == 15 and number[:3].isalpha():
        return SEX_MALE if int(number[13]) % 2 else SEX_FEMALE
    if len(number) == 18 and number[:17].isdigit():
        return SEX_MALE if int(number[16]) % 2 else SEX_FEMALE
    return None


def check_consistency(number: str, *, birth: datetime.date | None, sex_code: str | None) -> None:
    """Raise when the birth date or sex given beside the number contradicts it."""
    errors = {}
    carried_birth, carried_sex = birth_date(number), sex(number)
    if birth is not None and carried_birth is not None and birth != carried_birth:
        errors["birth_date"] = ValidationError(
            _("出生日期与证件号码不一致（号码中为%(date)s）。") % {"date": carried_birth.isoformat()},
            code="birth_date_mismatch",
        )
    if sex_code is not None and carried_sex is not None and sex_code != carried_sex:
        errors["sex"] = ValidationError(
            _("性别与证件号码不一致（号码表示%(sex)s）。") % {"sex": _("男") if carried_sex == SEX_MALE else _("女")},
            code="sex_mismatch",
        )
    if errors:
        raise ValidationError(errors)


def mask(number: str | None) -> str:
    """Everything but the last four characters hidden, as lists and exports show it."""
    if not number:
        return ""
    return "*" * (len(number) - 4) + number[-4:]


def generate(*, region: str, birth: datetime.date, sequence: int) -> str:
    """A valid number for test and demo data: region code, given birth date, sequence 0-999.

    The sequence's parity gives the sex (odd male, even female), as the standard says.
    """
    body = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + mod11_2(body)


def generate_foreign_permanent(*, nationality: str, province: str, birth: datetime.date, sequence: int, old_format: bool = False) -> str:
    """A valid permanent residence card number: 18-digit (numeric nationality) or 15-character (alpha-3 nationality)."""
    if old_format:
        body = f"{nationality}{province}01{birth:%y%m%d}{sequence % 10}"
        return body + mrz_check(body)
    body = f"9{province}{nationality}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + mod11_2(body)
