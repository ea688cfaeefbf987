"""The default bank file format: pipe-separated UTF-8 text (layout in README.md)."""

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
    decode_lines,
    parse_amount,
)


def _clean(value: str) -> str:
    # A pipe or a line break inside a name would shift every column after it.
    return str(value).replace("|", " ").replace("\n", " ").replace("\r", " ")


class PipeFormat(BankFileFormat):
    code = "default"
    encoding = "utf-8"
    extension = "txt"

    REASONS = {
        "INSUFFICIENT_FUNDS": FailureReason.INSUFFICIENT_FUNDS,
        "ACCOUNT_CLOSED": FailureReason.ACCOUNT_CLOSED,
        "ACCOUNT_MISMATCH": FailureReason.ACCOUNT_MISMATCH,
        "ACCOUNT_FROZEN": FailureReason.ACCOUNT_FROZEN,
    }

    def header(self, header: BatchHeader) -> str:
        return "|".join(
            ["H", header.batch_reference, header.bank_code, _clean(header.year_label), header.created_on,
             str(header.line_count), f"{header.total_amount:.2f}"]
        )

    def line(self, line: BatchLine) -> str:
        return "|".join(
            ["D", str(line.line_number), _clean(line.school_code), _clean(line.account_number), _clean(line.holder_name),
             f"{line.amount:.2f}", line.instruction_reference]
        )

    def trailer(self, checksum: str) -> str:
        return f"T|SHA256|{checksum}"

    def parse_result(self, content: bytes) -> ParsedResult:
        lines = decode_lines(content, self.encoding)
        if not lines:
            raise ResultFileError([_("结果文件为空。")])
        head = lines[0].split("|")
        if len(head) != 4 or head[0] != "H":
            raise ResultFileError([_("第1行：文件头应为“H|批次号|笔数|总金额”。")])
        try:
            count = int(head[2])
        except ValueError as exc:
            raise ResultFileError([_("第1行：笔数“%(raw)s”不是整数。") % {"raw": head[2]}]) from exc
        result = ParsedResult(batch_reference=head[1], declared_count=count, declared_total=parse_amount(head[3], _("第1行")))
        errors = []
        for number, text in enumerate(lines[1:], start=2):
            cols = text.split("|")
            where = _("第%(n)d行") % {"n": number}
            if len(cols) < 4 or cols[0] != "D" or cols[3] not in ("S", "F"):
                errors.append(_("%(where)s：明细行应为“D|指令号|金额|S”或“D|指令号|金额|F|原因代码|原因”。") % {"where": where})
                continue
            try:
                amount = parse_amount(cols[2], where)
            except ResultFileError as exc:
                errors.extend(exc.messages)
                continue
            succeeded = cols[3] == "S"
            code = "" if succeeded else self.REASONS.get(cols[4] if len(cols) > 4 else "", FailureReason.OTHER)
            text_reason = "" if succeeded else (cols[5] if len(cols) > 5 and cols[5] else FailureReason.label(code))
            result.lines.append(ResultLine(number, cols[1], amount, succeeded, code, text_reason))
        if errors:
            raise ResultFileError(errors)
        return result

    # Helpers for the bank's side (used by tests and the demo to answer a batch).
    def read_batch(self, content: bytes) -> tuple[str, list[tuple[str, Decimal]]]:
        lines = [line.split("|") for line in decode_lines(content, self.encoding)]
        return lines[0][1], [(cols[6], Decimal(cols[5])) for cols in lines if cols[0] == "D"]

    def render_result(self, batch_reference: str, rows: list[tuple[str, Decimal, bool, str]]) -> bytes:
        total = sum((r[1] for r in rows), Decimal("0.00"))
        out = [f"H|{batch_reference}|{len(rows)}|{total:.2f}"]
        reverse = {v: k for k, v in self.REASONS.items()}
        for ref, amount, ok, reason in rows:
            out.append(f"D|{ref}|{amount:.2f}|S" if ok else f"D|{ref}|{amount:.2f}|F|{reverse.get(reason, 'OTHER')}|")
        return ("\n".join(out) + "\n").encode(self.encoding)
