"""Keep identity numbers and bank account numbers out of application logs.

Anything that looks like an 18-character resident identity number, or a long
run of digits like a bank account number, is masked before a record leaves the
process, whatever code logged it: in the message, in its arguments, in extra
fields and in exception text and tracebacks (an exception message such as
"duplicate key ... (identity_number)=(440104...)" carries the raw value).

Names cannot be recognised reliably, so they are kept out differently: error
e-mails to ADMINS are off (they would carry request data), and code logs ids,
not names (see docs/operations.md).
"""

import logging
import re

_ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")
# Bank card and account numbers are 12 to 30 digits; shorter runs (phone
# numbers, years, ids of rows) stay readable.
_ACCOUNT_PATTERN = re.compile(r"(?<![0-9])\d{12,30}(?![0-9])")

_formatter = logging.Formatter()


def redact(text: str) -> str:
    text = _ID_PATTERN.sub(lambda m: "*" * 14 + m.group(2)[-4:], text)
    return _ACCOUNT_PATTERN.sub(lambda m: "*" * (len(m.group(0)) - 4) + m.group(0)[-4:], text)


def _redact_value(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 12:
        return redact(str(value))
    return value


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
