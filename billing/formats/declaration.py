"""The tax declaration workbook's sheet (see README.md): one row per student charged, then the total."""

from decimal import Decimal
from types import SimpleNamespace

from enrollment.exports import XlsxWriter, register_export
from enrollment.identity import label as document_label

ZERO = Decimal("0.00")
DECLARATION_SHEET = "申报明细"
DECLARATION_COLUMNS = ["序号", "代办单位代码", "代办单位名称", "姓名", "证件类型", "证件号码", "险种", "参保年度", "申报类型", "缴费金额"]
NORMAL, SUPPLEMENTARY = "正常申报", "补充申报"


def declaration_workbook(*, school, year_label: str, lines, supplementary: bool = False) -> tuple[XlsxWriter, int, Decimal]:
    """The workbook from (name, identity number, fee, document type) lines, not yet saved; with the count and total written.

    Names, codes and identity numbers are text cells through the shared
    writer: a name beginning with = must not become a formula in the tax
    department's system. Each row says whether it is the school's first declaration
    of the year or a supplementary one (late students confirmed afterwards).
    """
    kind = SUPPLEMENTARY if supplementary else NORMAL
    writer = XlsxWriter()
    sheet = writer.sheet(DECLARATION_SHEET)
    sheet.header(DECLARATION_COLUMNS)
    count, total = 0, ZERO
    for name, number, fee, document_type in lines:
        count += 1
        total += fee
        # The identity number as text: Excel must not turn 18 digits into 4.4E+17.
        sheet.row([count, school.code, school.name, name, document_label(document_type), number, "城乡居民基本医疗保险", year_label,
                   kind, float(fee)], text=(1, 2, 3, 4, 5))
    sheet.row(["合计", "", "", f"{count}人", "", "", "", "", kind, float(total)])
    return writer, count, total


def _probe(text: str) -> bytes:
    writer, _count, _total = declaration_workbook(
        school=SimpleNamespace(code=text, name=text), year_label=text, lines=[(text, text, Decimal("400.00"), text)]
    )
    return writer.save()


register_export("tax_declaration", kind="xlsx", probe=_probe)
