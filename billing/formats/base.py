"""What every bank file format provides: write a batch, read the bank's answer."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO

from django.utils.translation import gettext_lazy as _


class FailureReason:
    """Canonical failure reasons; each format maps its bank's codes onto these."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    ACCOUNT_CLOSED = "account_closed"
    ACCOUNT_MISMATCH = "account_mismatch"
    ACCOUNT_FROZEN = "account_frozen"
    OTHER = "other"

    LABELS = {
        INSUFFICIENT_FUNDS: _("余额不足"),
        ACCOUNT_CLOSED: _("账户已销户"),
        ACCOUNT_MISMATCH: _("账号户名不符"),
        ACCOUNT_FROZEN: _("账户冻结"),
        OTHER: _("其他原因"),
    }

    @classmethod
    def label(cls, code: str) -> str:
        return str(cls.LABELS.get(code, cls.LABELS[cls.OTHER]))


@dataclass(frozen=True)
class BatchHeader:
    batch_reference: str
    bank_code: str
    year_label: str
    created_on: str  # YYYYMMDD
    line_count: int
    total_amount: Decimal


@dataclass(frozen=True)
class BatchLine:
    line_number: int
    school_code: str
    account_number: str
    holder_name: str
    amount: Decimal
    instruction_reference: str


@dataclass(frozen=True)
class ResultLine:
    line_number: int  # line in the result file, for error messages
    instruction_reference: str
    amount: Decimal
    succeeded: bool
    reason_code: str = ""
    reason_text: str = ""


@dataclass
class ParsedResult:
    batch_reference: str
    declared_count: int
    declared_total: Decimal
    lines: list[ResultLine] = field(default_factory=list)


class ResultFileError(ValueError):
    """A result file that cannot be read; ``messages`` say where (line) and what."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


class BankFileFormat:
    code = ""
    encoding = "utf-8"
    extension = "txt"

    def header(self, header: BatchHeader) -> str:
        raise NotImplementedError

    def line(self, line: BatchLine) -> str:
        raise NotImplementedError

    def trailer(self, checksum: str) -> str:
        raise NotImplementedError

    def parse_result(self, content: bytes) -> ParsedResult:
        raise NotImplementedError

    # The bank's side, for tests and the demo: read a batch file as the bank does, then answer it.
    def read_batch(self, content: bytes) -> tuple[str, list[tuple[str, Decimal]]]:
        """(batch reference, [(instruction reference, amount)] in file order) of a debit file this format wrote."""
        raise NotImplementedError

    def render_result(self, batch_reference: str, rows: list[tuple[str, Decimal, bool, str]]) -> bytes:
        """The bank's result file: (instruction reference, amount, succeeded, failure reason code) per line."""
        raise NotImplementedError

    def write(self, out: IO[bytes], header: BatchHeader, lines: Iterable[BatchLine], on_line=None) -> tuple[str, int, Decimal]:
        """Stream the file to ``out``; returns (SHA-256 of the body, lines written, sum written).

        Lines come from an iterator, so memory stays flat however big the batch.
        """
        digest = hashlib.sha256()
        out.write(self.header(header).encode(self.encoding) + b"\n")
        count, total = 0, Decimal("0.00")
        for line in lines:
            data = self.line(line).encode(self.encoding) + b"\n"
            digest.update(data)
            out.write(data)
            count += 1
            total += line.amount
            if on_line is not None:
                on_line(count)
        checksum = digest.hexdigest()
        out.write(self.trailer(checksum).encode(self.encoding) + b"\n")
        return checksum, count, total


def decode_lines(content: bytes, encoding: str) -> list[str]:
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ResultFileError([str(_("文件编码错误，应为%(enc)s编码。") % {"enc": encoding.upper()})]) from exc
    return [line.rstrip("\r") for line in text.lstrip("\ufeff").split("\n") if line.strip()]


def parse_amount(raw: str, where: str) -> Decimal:
    from decimal import InvalidOperation

    try:
        value = Decimal(raw.strip())
    except InvalidOperation as exc:
        raise ResultFileError([str(_("%(where)s：金额“%(raw)s”不是有效数字。") % {"where": where, "raw": raw})]) from exc
    if value != value.quantize(Decimal("0.01")):
        raise ResultFileError([str(_("%(where)s：金额最多两位小数。") % {"where": where})])
    return value.quantize(Decimal("0.01"))
