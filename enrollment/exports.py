"""The one writer of every spreadsheet and CSV file the system hands out, and the registry of those exports.

Every export (the import template, error reports, the register and the roster,
the bureau's year-end report, the coordinators' receipts, the tax declaration,
the card maker's list, the coordinator annex) writes its cells through
``XlsxWriter`` or ``CsvWriter``. They neutralise every text value the OWASP
way: a value beginning with = + - @ tab or carriage return gets a leading
apostrophe, so Excel, WPS or the tax department's system never runs it as a
formula; xlsx text cells are always string cells, never formulas.

Each export registers itself with ``register_export`` and a probe that builds
the file from one record whose every text field is a given value; the test
suite walks the registry with formula payloads, so a new export cannot skip
the check. Modules other than this one may not use openpyxl's or csv's
writers (a test greps for it).

Written with openpyxl in write-only mode (constant memory); identity numbers
are written as text so Excel keeps all 18 characters.
"""

import csv
import datetime
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from enrollment.identity import mask
from enrollment.imports.columns import REQUIRED, TEMPLATE_ORDER, label

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT = "@"
PLAIN_TYPES = (int, float, Decimal, datetime.date, datetime.datetime, datetime.time, bool)


def safe(value):
    """Neutralise text that a spreadsheet would read as a formula (CSV/formula injection)."""
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _plain(value):
    """A value a cell can hold: numbers, dates and None as they are, anything else as neutralised text."""
    if value is None or isinstance(value, PLAIN_TYPES):
        return value
    return safe(value if isinstance(value, str) else str(value))


# --- The registry ------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredExport:
    name: str
    kind: str  # "xlsx" or "csv"
    probe: Callable[[str], bytes]


EXPORTS: dict[str, RegisteredExport] = {}


def register_export(name: str, *, kind: str, probe: Callable[[str], bytes]) -> None:
    """Declare an export. ``probe(text)`` returns the file the export writes for one record whose text fields are ``text``."""
    if kind not in {"xlsx", "csv"}:
        raise ValueError(f"unknown export kind {kind!r}")
    EXPORTS[name] = RegisteredExport(name=name, kind=kind, probe=probe)


# --- The writers -------------------------------------------------------------


class XlsxSheet:
    def __init__(self, sheet):
        self._sheet = sheet
        self.column_dimensions = sheet.column_dimensions

    def cell(self, value, *, text: bool = False, bold: bool = False):
        cell = WriteOnlyCell(self._sheet, value=_plain(str(value) if text and value is not None else value))
        if isinstance(cell.value, str):
            cell.data_type = "s"  # a string cell, whatever openpyxl would guess
        if text:
            cell.number_format = TEXT
        if bold:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDEBF7")
        return cell

    def header(self, names: Iterable) -> None:
        self._sheet.append([self.cell(name, bold=True) for name in names])

    def row(self, values: Iterable, *, text: Iterable[int] = ()) -> None:
        """One row; the columns (0-based) in ``text`` are formatted as text (identity numbers, codes)."""
        text = set(text)
        self._sheet.append([self.cell(value, text=index in text) for index, value in enumerate(values)])


class XlsxWriter:
    def __init__(self):
        self._workbook = Workbook(write_only=True)

    def sheet(self, title) -> XlsxSheet:
        # Sheet titles are at most 31 characters and may not hold []:*?/\ .
        clean = "".join(" " if ch in "[]:*?/\\" else ch for ch in str(title))[:31] or "Sheet"
        return XlsxSheet(self._workbook.create_sheet(clean))

    def save(self, target=None) -> bytes | None:
        """The workbook's bytes, or written to the binary file ``target`` (then None)."""
        if not self._workbook.worksheets:
            self._workbook.create_sheet("Sheet")
        if target is not None:
            self._workbook.save(target)
            return None
        buffer = io.BytesIO()
        self._workbook.save(buffer)
        return buffer.getvalue()


class CsvWriter:
    """UTF-8 CSV with a BOM (Excel opens it right only so), every field quoted and neutralised."""

    def __init__(self, target=None, *, bom: bool = True):
        self._buffer = io.StringIO() if target is None else None
        self._target = target if target is not None else self._buffer
        if bom:
            self._target.write("\ufeff")
        self._writer = csv.writer(self._target, quoting=csv.QUOTE_ALL)

    def row(self, values: Iterable) -> None:
        self._writer.writerow(["" if v is None else _plain(v) for v in values])

    header = row

    def getvalue(self) -> bytes:
        return self._buffer.getvalue().encode("utf-8")


def import_template() -> bytes:
    """The import template: the students sheet (identity column formatted as text) and a sheet of instructions."""
    writer = XlsxWriter()
    sheet = writer.sheet(_("学生名单"))
    names = [label(f) + ("*" if f in REQUIRED else "") for f in TEMPLATE_ORDER]
    id_col = TEMPLATE_ORDER.index("identity_number")
    for index in range(len(names)):
        letter = chr(ord("A") + index)
        sheet.column_dimensions[letter].width = 22 if index == id_col else 12
        if index == id_col:
            # Format the whole column as text, so what the school types or pastes keeps all 18 characters.
            sheet.column_dimensions[letter].number_format = TEXT
    sheet.header(names)
    help_sheet = writer.sheet(_("填写说明"))
    help_sheet.column_dimensions["A"].width = 100
    for line in [
        _("学生基本信息导入模板填写说明"),
        _("1. 带*的列必须填写；列的顺序可以调整，表头文字不要修改。从第2行起每行填写一名学生。"),
        _("   示例：张三 | （空） | 440104201003150011 | 男 | 2010-03-15 | 5 | 5班 | 本市城镇 | （空） | 否 | 否"),
        _("2. 身份证号码：18位居民身份证号码，末位X大小写均可。该列已设置为“文本”格式，请勿改为数字格式，否则Excel会丢失末尾数字。"
          "港澳台居民居住证、外国人永久居留身份证（15位或18位）的号码也填在此列；证件类型可留空，按号码自动识别。"
          "持护照的外国学生须在“证件类型”列填“护照”，不列入本校缴费名单。"),
        _("3. 性别填“男”或“女”；出生日期写成2010-03-15格式；二者须与证件号码一致，留空则按证件号码填写（护照除外）。"),
        _("4. 年级填数字（如1至12，不超过本校最高年级）；班级可填“5班”等。"),
        _("5. 户籍填“本市城镇”“本市农村”“非本市”等；农村户籍学生经村委会参保，不计入学校缴费名单。"),
        _("6. 医疗救助填“民政”或“残联”，没有则留空；公费医疗、已有市民卡填“是”或“否”。"),
        _("7. 同一文件内身份证号码不能重复；已在其他学校登记的学生不会被转入本校，请联系原学校或经办机构。"),
        _("8. 重复导入同一文件不会产生重复数据：已登记的学生按身份证号码更新。"),
        _("9. 支持 .xlsx、.xls、.csv（UTF-8 或 GBK 编码）文件。"),
    ]:
        help_sheet.row([line])
    return writer.save()


def error_report(*, header: list[str], rows: dict[int, list], errors) -> bytes:
    """The rejected rows as uploaded, each with the row number, the column at fault and the reason."""
    by_row: dict[int, list] = {}
    for error in errors:
        by_row.setdefault(error.row, []).append(error)
    writer = XlsxWriter()
    sheet = writer.sheet(_("错误报告"))
    sheet.header([_("行号"), _("错误列"), _("错误说明")] + [h or "" for h in header])
    for number in sorted(by_row):
        problems = by_row[number]
        original = rows.get(number, [])
        values = [number, "、".join(dict.fromkeys(str(p.column) for p in problems)), "；".join(str(p.message) for p in problems)]
        # The uploaded text comes back as text cells: "0011" must not become 11.
        sheet.row(values + list(original), text=[3 + i for i, v in enumerate(original) if isinstance(v, str)])
    return writer.save()


def _date(value):
    return value.isoformat() if isinstance(value, datetime.date) else value


def register_workbook(students, *, full_numbers: bool, year_channels: dict | None = None) -> bytes:
    """The student register; ``students`` is an iterable of Student rows."""
    writer = XlsxWriter()
    sheet = writer.sheet(_("学生名册"))
    sheet.header([_("姓名"), _("身份证号码"), _("性别"), _("出生日期"), _("年级"), _("班级"), _("户籍"), _("在校状态"), _("参保途径"),
                  _("证件类型")])
    year_channels = year_channels or {}
    for student in students:
        number = student.identity_number if full_numbers else mask(student.identity_number)
        hukou = (_("本市") if student.hukou_local else _("非本市")) + (_("农村") if student.hukou_rural else _("城镇"))
        sheet.row([
            student.name, number, student.get_sex_display(), _date(student.birth_date),
            student.grade, student.class_name, hukou, student.get_status_display(),
            year_channels.get(student.pk, ""), student.get_document_type_display(),
        ], text=(0, 1, 5, 9))
    return writer.save()


def roster_workbook(enrollments, *, full_numbers: bool) -> bytes:
    """One insurance year's roster of a school: every enrollment with channel, exemption and fee."""
    writer = XlsxWriter()
    sheet = writer.sheet(_("参保名单"))
    sheet.header([_("姓名"), _("身份证号码"), _("年级"), _("班级"), _("参保途径"), _("免缴类别"), _("登记状态"), _("应缴金额（元）"), _("缴费状态"),
                  _("证件类型")])
    for enrollment in enrollments:
        student = enrollment.student
        number = student.identity_number if full_numbers else mask(student.identity_number)
        sheet.row([
            student.name, number, student.grade, student.class_name,
            enrollment.get_channel_display(),
            enrollment.exemption_category.name if enrollment.exemption_category else "",
            enrollment.get_status_display(), enrollment.fee_due, enrollment.get_payment_status_display(),
            student.get_document_type_display(),
        ], text=(0, 1, 3, 5, 9))
    return writer.save()


# --- Probes: each export above written for one record whose text fields are all ``text`` ---


def _probe_student(text: str) -> SimpleNamespace:
    return SimpleNamespace(
        pk=1, name=text, identity_number=text, birth_date=datetime.date(2010, 3, 15), grade=5, class_name=text,
        hukou_local=True, hukou_rural=False, get_sex_display=lambda: text, get_status_display=lambda: text,
        get_document_type_display=lambda: text,
    )


def _probe_enrollment(text: str) -> SimpleNamespace:
    return SimpleNamespace(
        student=_probe_student(text), exemption_category=SimpleNamespace(name=text), fee_due=Decimal("400.00"),
        get_channel_display=lambda: text, get_status_display=lambda: text, get_payment_status_display=lambda: text,
    )


register_export("import_template", kind="xlsx", probe=lambda text: import_template())
register_export(
    "import_error_report",
    kind="xlsx",
    probe=lambda text: error_report(
        header=[text, text], rows={2: [text, text]}, errors=[SimpleNamespace(row=2, column=text, message=text)]
    ),
)
register_export(
    "student_register",
    kind="xlsx",
    probe=lambda text: register_workbook([_probe_student(text)], full_numbers=True, year_channels={1: text}),
)
register_export("roster", kind="xlsx", probe=lambda text: roster_workbook([_probe_enrollment(text)], full_numbers=True))
