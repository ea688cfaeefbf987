"""Keep identity numbers out of application logs.

Anything that looks like an 18-character resident identity number is masked
before a record leaves the process, whatever code logged it.
"""

import logging
import re

_ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def redact(text: str) -> str:
    return _ID_PATTERN.sub(lambda m: "*" * 14 + m.group(2)[-4:], text)


class RedactPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True
