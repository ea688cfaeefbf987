"""Bank file formats, pluggable per bank (``Bank.file_format``).

A format writes a debit batch file (header with control totals, one line per
instruction, a trailer with the SHA-256 of the body) and reads the bank's result
file back. See README.md in this package for the byte layouts.
"""

from billing.formats.base import (
    BankFileFormat,
    BatchHeader,
    BatchLine,
    FailureReason,
    ParsedResult,
    ResultFileError,
    ResultLine,
)
from billing.formats.default import PipeFormat
from billing.formats.icbc_fixed import IcbcFixedFormat

FORMATS: dict[str, type[BankFileFormat]] = {
    PipeFormat.code: PipeFormat,
    IcbcFixedFormat.code: IcbcFixedFormat,
}


def get_format(code: str) -> BankFileFormat:
    """The format registered under ``code``; an unknown code is a configuration error staff must see."""
    try:
        return FORMATS[code or PipeFormat.code]()
    except KeyError as exc:
        raise LookupError(f"unknown bank file format: {code!r}") from exc


__all__ = [
    "FORMATS",
    "BankFileFormat",
    "BatchHeader",
    "BatchLine",
    "FailureReason",
    "ParsedResult",
    "ResultFileError",
    "ResultLine",
    "get_format",
]
