"""Spreadsheets the system hands out: the import template, error reports, the register and the roster.

All are written with openpyxl in write-only mode (constant memory). Every text
cell goes through ``safe`` so a value beginning with = + - @ can never run as a
formula in Excel, and identity numbers are written as text so Excel keeps all
18 characters.
"""

import datetime
import io

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from enrollment.identity import mask
from enrollment.imports.columns import REQUIRED, TEMPLATE_ORDER, label

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT = "@"


def safe(value):
    """Neutralise text that Excel would read as a formula (CSV/formula injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _text_cell(sheet, value):
    cell = WriteOnlyCell(sheet, value=safe(value if value is None or isinstance(value, str) else str(value)))
    cell.number_format = TEXT
    return cell


def _header(sheet, names):
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    row = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=safe(str(name)))
        cell.font = bold
        cell.fill = fill
        row.append(cell)
    sheet.append(row)


def _save(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def import_template() -> bytes:
    """The import template: the students sheet (identity column formatted as text) and a sheet of instructions."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("学生名单"))
    names = [label(f) + ("*" if f in REQUIRED else "") for f in TEMPLATE_ORDER]
    id_col = TEMPLATE_ORDER.index("identity_number")
    for index in range(len(names)):
        letter = chr(ord("A") + index)
        sheet.column_dimensions[letter].width = 22 if index == id_col else 12
        if index == id_col:
            # Format the whole column as text, so what the school types or pastes keeps all 18 characters.
            sheet.column_dimensions[letter].number_format = TEXT
    _header(sheet, names)
    help_sheet = workbook.create_sheet(_("填写说明"))
    help_sheet.column_dimensions["A"].width = 100
    for line in [
        _("学生基本信息导入模板填写说明"),
        _("1. 带*的列必须填写；列的顺序可以调整，表头文字不要修改。从第2行起每行填写一名学生。"),
        _("   示例：张三 | 440104201003150011 | 男 | 2010-03-15 | 5 | 5班 | 本市城镇 | （空） | 否 | 否"),
        _("2. 身份证号码：18位居民身份证号码，末位X大小写均可。该列已设置为“文本”格式，请勿改为数字格式，否则Excel会丢失末尾数字。"),
        _("3. 性别填“男”或“女”；出生日期写成2010-03-15格式；二者须与身份证号码一致。"),
        _("4. 年级填数字（如1至12，不超过本校最高年级）；班级可填“5班”等。"),
        _("5. 户籍填“本市城镇”“本市农村”“非本市”等；农村户籍学生经村委会参保，不计入学校缴费名单。"),
        _("6. 医疗救助填“民政”或“残联”，没有则留空；公费医疗、已有市民卡填“是”或“否”。"),
        _("7. 同一文件内身份证号码不能重复；已在其他学校登记的学生不会被转入本校，请联系原学校或经办机构。"),
        _("8. 重复导入同一文件不会产生重复数据：已登记的学生按身份证号码更新。"),
        _("9. 支持 .xlsx、.xls、.csv（UTF-8 或 GBK 编码）文件。"),
    ]:
        help_sheet.append([str(line)])
    return _save(workbook)


def error_report(*, header: list[str], rows: dict[int, list], errors) -> bytes:
    """The rejected rows as uploaded, each with the row number, the column at fault and the reason."""
    by_row: dict[int, list] = {}
    for error in errors:
        by_row.setdefault(error.row, []).append(error)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("错误报告"))
    _header(sheet, [_("行号"), _("错误列"), _("错误说明")] + [h or "" for h in header])
    for number in sorted(by_row):
        problems = by_row[number]
        original = rows.get(number, [])
        sheet.append(
            [number, "、".join(dict.fromkeys(p.column for p in problems)), "；".join(p.message for p in problems)]
            + [_text_cell(sheet, v) if isinstance(v, str) else safe(v) for v in original]
        )
    return _save(workbook)


def _date(value):
    return value.isoformat() if isinstance(value, datetime.date) else value


def register_workbook(students, *, full_numbers: bool, year_channels: dict | None = None) -> bytes:
    """The student register; ``students`` is an iterable of Student rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("学生名册"))
    _header(sheet, [_("姓名"), _("身份证号码"), _("性别"), _("出生日期"), _("年级"), _("班级"), _("户籍"), _("在校状态"), _("参保途径")])
    year_channels = year_channels or {}
    for student in students:
        number = student.identity_number if full_numbers else mask(student.identity_number)
        hukou = (_("本市") if student.hukou_local else _("非本市")) + (_("农村") if student.hukou_rural else _("城镇"))
        sheet.append([
            _text_cell(sheet, student.name), _text_cell(sheet, number), student.get_sex_display(), _date(student.birth_date),
            student.grade, _text_cell(sheet, student.class_name), str(hukou), str(student.get_status_display()),
            str(year_channels.get(student.pk, "")),
        ])
    return _save(workbook)


def roster_workbook(enrollments, *, full_numbers: bool) -> bytes:
    """One insurance year's roster of a school: every enrollment with channel, exemption and fee."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("参保名单"))
    _header(sheet, [_("姓名"), _("身份证号码"), _("年级"), _("班级"), _("参保途径"), _("免缴类别"), _("登记状态"), _("应缴金额（元）"), _("缴费状态")])
    for enrollment in enrollments:
        student = enrollment.student
        number = student.identity_number if full_numbers else mask(student.identity_number)
        sheet.append([
            _text_cell(sheet, student.name), _text_cell(sheet, number), student.grade, _text_cell(sheet, student.class_name),
            str(enrollment.get_channel_display()),
            _text_cell(sheet, enrollment.exemption_category.name if enrollment.exemption_category else ""),
            str(enrollment.get_status_display()), enrollment.fee_due, str(enrollment.get_payment_status_display()),
        ])
    return _save(workbook)
