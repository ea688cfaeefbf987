"""Resident identity numbers (GB 11643-1999).

Validation is python-stdnum's ``cn.ric`` (length, check character, birth date
and region code); this module adds normalisation of what people type or paste
from Excel and cross-checks against the birth date and sex given beside it.
"""

import datetime
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric

SEX_MALE = "M"
SEX_FEMALE = "F"


def normalize(raw: object) -> str:
    """Full-width digits and letters become ASCII, spaces go, ``x`` becomes ``X``."""
    if raw is None:
        return ""
    text = unicodedata.normalize("NFKC", str(raw))
    return "".join(text.split()).upper()


def validate(raw: object) -> str:
    """Return the normalised number or raise ValidationError with a message for people."""
    number = normalize(raw)
    if not number:
        raise ValidationError(_("身份证号码不能为空。"), code="required")
    if len(number) == 15 and number.isdigit():
        raise ValidationError(
            _("身份证号码为15位旧号码，请使用18位居民身份证号码。"), code="legacy"
        )
    if len(number) != 18:
        raise ValidationError(
            _("身份证号码应为18位，实际为%(length)d位。") % {"length": len(number)}, code="length"
        )
    try:
        return ric.validate(number)
    except stdnum_exceptions.InvalidChecksum as exc:
        raise ValidationError(_("身份证号码校验位错误，请核对最后一位。"), code="checksum") from exc
    except stdnum_exceptions.InvalidFormat as exc:
        raise ValidationError(_("身份证号码前17位必须是数字。"), code="format") from exc
    except stdnum_exceptions.ValidationError as exc:
        raise ValidationError(_("身份证号码中的出生日期或地区代码无效。"), code="component") from exc


def birth_date(number: str) -> datetime.date:
    return ric.get_birth_date(number)


def sex(number: str) -> str:
    return SEX_MALE if int(number[16]) % 2 else SEX_FEMALE


def check_consistency(number: str, *, birth: datetime.date | None, sex_code: str | None) -> None:
    """Raise when the birth date or sex given beside the number contradicts it."""
    errors = {}
    if birth is not None and birth != birth_date(number):
        errors["birth_date"] = ValidationError(
            _("出生日期与身份证号码不一致（号码中为%(date)s）。") % {"date": birth_date(number).isoformat()},
            code="birth_date_mismatch",
        )
    if sex_code is not None and sex_code != sex(number):
        errors["sex"] = ValidationError(_("性别与身份证号码不一致。"), code="sex_mismatch")
    if errors:
        raise ValidationError(errors)


def mask(number: str | None) -> str:
    """Everything but the last four characters hidden, as lists and exports show it."""
    if not number:
        return ""
    return "*" * (len(number) - 4) + number[-4:]


def generate(*, region: str, birth: datetime.date, sequence: int) -> str:
    """A valid number for test and demo data: real region code, given birth date, sequence 0-999.

    The sequence's parity gives the sex (odd male, even female), as the standard says.
    """
    body = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")
