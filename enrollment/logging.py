"""Keep identity numbers and bank account numbers out of application logs.

Anything that looks like an 18-character resident identity number, or a long
run of digits like a bank account number, is masked before a record leaves the
process, whatever code logged it: in the message, in its arguments, in extra
fields and in exception text and tracebacks (an exception message such as
"duplicate key ... (identity_number)=(440104...)" carries the raw value).

Addresses are masked too, wherever they appear in a record (Django's request
logger puts the request, with its path and query string, in every line it
writes): the identity number in the path of the coverage API
(``/api/v1/coverage/<number>``, whatever the document type) and the value of
search parameters (``?q=``, which carries names and numbers) whatever they are.

Names cannot be recognised reliably, so they are kept out differently: error
e-mails to ADMINS are off (they would carry request data), and code logs ids,
not names (see docs/operations.md).
"""

import datetime
import decimal
import enum
import logging
import re
import uuid

_ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")
# Bank card and account numbers are 12 to 30 digits; shorter runs (phone
# numbers, years, ids of rows) stay readable.
_ACCOUNT_PATTERN = re.compile(r"(?<![0-9])\d{12,30}(?![0-9])")

# The path segment after /coverage/ is an identity number of any document type (passports included, which
# no pattern above recognises); it is masked up to its last four characters, like the other numbers.
_COVERAGE_PATH = re.compile(r"(/coverage/)([^/?#&\s'\"]+)")
# Search parameters carry names as well as numbers: their values are masked whole.
_SEARCH_PARAMETER = re.compile(r"([?&](?:q|search|identity_number|name)=)([^&#\s'\"]*)")

_formatter = logging.Formatter()


def _mask_tail(value: str) -> str:
    return "*" * (len(value) - 4) + value[-4:] if len(value) > 8 else "*" * len(value)


def redact(text: str) -> str:
    text = _COVERAGE_PATH.sub(lambda m: m.group(1) + _mask_tail(m.group(2)), text)
    text = _SEARCH_PARAMETER.sub(lambda m: m.group(1) + ("***" if m.group(2) else ""), text)
    text = _ID_PATTERN.sub(lambda m: "*" * 14 + m.group(2)[-4:], text)
    return _ACCOUNT_PATTERN.sub(lambda m: "*" * (len(m.group(0)) - 4) + m.group(0)[-4:], text)


# Extra values the JSON formatter writes as they are; any other object (Django's request logger passes the
# HttpRequest, whose text is "<WSGIRequest: GET '/path?query'>") is written as its masked text.
_PLAIN_TYPES = (
    type(None), bool, float, datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID, enum.Enum,
)


def _redact_value(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 12:
        return redact(str(value))
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_redact_value(item) for item in value]
    if isinstance(value, (int, *_PLAIN_TYPES)):
        return value
    try:
        return redact(str(value))
    except Exception:  # an object that cannot describe itself is left out rather than failing the log line
        return f"<{type(value).__name__}>"


# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RedactPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call must still be logged, masked as far as possible
            message = str(record.msg)
        redacted = redact(message)
        if redacted != message or record.args:
            # The merged message replaces msg + args, so no argument is
            # formatted again later without the mask.
            record.msg = redacted
            record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters (the JSON one included) would re-render exc_info from
            # the live exception; render it once here, masked, and drop it.
            record.exc_text = redact(_formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _redact_value(value))
        return True
