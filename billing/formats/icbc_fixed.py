"""A fixed-width GBK format (columns counted in GBK bytes), as older bank host systems take.

Amounts are in fen (1/100 yuan), zero-padded; text columns are padded with
spaces to their byte width and never cut inside a Chinese character.
"""

from decimal import Decimal

from django.utils.translation import gettext as _

from billing.formats.base import (
    BankFileFormat,
    BatchHeader,
    BatchLine,
    FailureReason,
    ParsedResult,
    ResultFileError,
    ResultLine,
)

ENCODING = "gbk"


def _fit(value: str, width: int) -> str:
    """Pad (or cut) text to exactly ``width`` GBK bytes."""
    out, used = [], 0
    for char in str(value).replace("\n", " "):
        size = len(char.encode(ENCODING, errors="replace"))
        if used + size > width:
            break
        out.append(char)
        used += size
    return "".join(out) + " " * (width - used)


def _fen(amount: Decimal, width: int) -> str:
    return str(int((amount * 100).to_integral_value())).rjust(width, "0")


def _yuan(raw: bytes) -> Decimal:
    return (Decimal(int(raw.decode("ascii"))) / 100).quantize(Decimal("0.01"))


class IcbcFixedFormat(BankFileFormat):
    code = "icbc_fixed"
    encoding = ENCODING
    extension = "dat"

    # header:  "HDR" ref(30) bank(10) date(8) count(8) amount-fen(16)
    # detail:  "DTL" line(8) school(20) account(32) holder(60) amount-fen(15) reference(40)
    # trailer: "TLR" sha256(64)
    # result header: "HDR" ref(30) count(8) amount-fen(16)
    # result detail: "DTL" reference(40) amount-fen(15) status(1: 0 ok, 1 failed) reason-code(4) reason(60)
    REASONS = {"1001": FailureReason.INSUFFICIENT_FUNDS, "1002": FailureReason.ACCOUNT_CLOSED,
               "1003": FailureReason.ACCOUNT_MISMATCH, "1004": FailureReason.ACCOUNT_FROZEN}

    def header(self, header: BatchHeader) -> str:
        return ("HDR" + _fit(header.batch_reference, 30) + _fit(header.bank_code, 10) + header.created_on
                + str(header.line_count).rjust(8, "0") + _fen(header.total_amount, 16))

    def line(self, line: BatchLine) -> str:
        return ("DTL" + str(line.line_number).rjust(8, "0") + _fit(line.school_code, 20) + _fit(line.account_number, 32)
                + _fit(line.holder_name, 60) + _fen(line.amount, 15) + _fit(line.instruction_reference, 40))

    def trailer(self, checksum: str) -> str:
        return "TLR" + checksum

    def parse_result(self, content: bytes) -> ParsedResult:
        rows = [row.rstrip(b"\r") for row in content.split(b"\n") if row.strip()]
        if not rows or not rows[0].startswith(b"HDR") or len(rows[0]) != 57:
            raise ResultFileError([_("第1行：文件头格式错误（应为HDR+批次号30位+笔数8位+金额16位）。")])
        head = rows[0]
        try:
            result = ParsedResult(
                batch_reference=head[3:33].decode(ENCODING).strip(), declared_count=int(head[33:41]), declared_total=_yuan(head[41:57])
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise ResultFileError([_("第1行：笔数或金额不是数字。")]) from exc
        errors = []
        for number, row in enumerate(rows[1:], start=2):
            if not row.startswith(b"DTL") or len(row) < 63:
                errors.append(_("第%(n)d行：明细行格式错误。") % {"n": number})
                continue
            try:
                ref = row[3:43].decode(ENCODING).strip()
                amount = _yuan(row[43:58])
                status = row[58:59].decode("ascii")
                code = row[59:63].decode("ascii").strip()
                text = row[63:].decode(ENCODING).strip()
            except (ValueError, UnicodeDecodeError):
                errors.append(_("第%(n)d行：金额或状态不是有效值。") % {"n": number})
                continue
            if status not in ("0", "1"):
                errors.append(_("第%(n)d行：状态应为0（成功）或1（失败）。") % {"n": number})
                continue
            ok = status == "0"
            reason = "" if ok else self.REASONS.get(code, FailureReason.OTHER)
            result.lines.append(ResultLine(number, ref, amount, ok, reason, "" if ok else (text or FailureReason.label(reason))))
        if errors:
            raise ResultFileError(errors)
        return result

    def read_batch(self, content: bytes) -> tuple[str, list[tuple[str, Decimal]]]:
        rows = [row.rstrip(b"\r") for row in content.split(b"\n") if row.strip()]
        # detail: DTL(3) line(8) school(20) account(32) holder(60) -> amount at byte 123, reference at 138
        lines = [(row[138:178].decode(ENCODING).strip(), _yuan(row[123:138])) for row in rows if row.startswith(b"DTL")]
        return rows[0][3:33].decode(ENCODING).strip(), lines

    def render_result(self, batch_reference: str, rows: list[tuple[str, Decimal, bool, str]]) -> bytes:
        total = sum((r[1] for r in rows), Decimal("0.00"))
        out = ["HDR" + _fit(batch_reference, 30) + str(len(rows)).rjust(8, "0") + _fen(total, 16)]
        reverse = {v: k for k, v in self.REASONS.items()}
        for ref, amount, ok, reason in rows:
            out.append("DTL" + _fit(ref, 40) + _fen(amount, 15) + ("0" if ok else "1")
                       + ("    " if ok else reverse.get(reason, "9999")) + _fit("" if ok else FailureReason.label(reason), 60))
        return ("\n".join(out) + "\n").encode(ENCODING)
