"""Row-by-row validation: every row is checked and every problem reported before anything is written."""

import datetime
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment import identity
from enrollment.imports.columns import REQUIRED, field_for, label
from enrollment.imports.errors import FileRejected, RowError
from enrollment.imports.reader import Table
from enrollment.models import MedicalAssistance

HEADER_SEARCH_ROWS = 10
PROGRESS_EVERY = 2000

_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十一": 11, "十二": 12}
_GRADE_PREFIX = {"小": 0, "初": 6, "高": 9}
_DOTS = str.maketrans({"•": "·", "･": "·", "・": "·", "．": "·", ".": "·", "‧": "·", "∙": "·", "﹒": "·"})
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_TRUE = {"是", "有", "y", "yes", "true", "1", "√", "已有"}
_FALSE = {"", "否", "无", "n", "no", "false", "0", "没有", "未有"}
_NON_LOCAL = ("非本市", "外市", "外省", "非本地", "外地", "省外", "市外")

STUDENT_FIELDS = ["document_type", "name", "sex", "birth_date", "grade", "class_name", "hukou_local", "hukou_rural", "medical_assistance", "public_funded_care", "has_citizen_card"]


@dataclass
class ParsedFile:
    header: list[str]
    columns: dict[str, int]
    valid: dict[str, dict] = field(default_factory=dict)  # identity number -> student fields
    row_of: dict[str, int] = field(default_factory=dict)  # identity number -> row number
    errors: list[RowError] = field(default_factory=list)
    raw_rows: dict[int, list] = field(default_factory=dict)  # rejected rows as read, for the report
    total: int = 0

    @property
    def fields(self) -> list[str]:
        """Student fields the file carries: a re-import never blanks a column the file does not have."""
        # The document type always goes with the number (told from it when the file has no such column).
        present = set(self.columns) | {"document_type"}
        out = []
        for name in STUDENT_FIELDS:
            source = "hukou" if name in ("hukou_local", "hukou_rural") else name
            if source in present:
                out.append(name)
        return out

    def reject(self, identity_number: str, message: str, column: str) -> None:
        """Move an otherwise valid row to the errors (e.g. found at another school).

        Valid rows are not kept as read (that would double the memory of a large
        import); the report shows the row rebuilt from its checked values.
        """
        row = self.row_of.pop(identity_number)
        values = self.valid.pop(identity_number)
        self.errors.append(RowError(row=row, column=column, message=message))
        rebuilt = [""] * len(self.header)
        shown = {**values, "identity_number": identity_number}
        for name, position in self.columns.items():
            if name in shown and position < len(rebuilt):
                value = shown[name]
                rebuilt[position] = value.isoformat() if isinstance(value, datetime.date) else value
        self.raw_rows.setdefault(row, rebuilt)


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip() if value is not None else ""


def find_header(rows: list[list]) -> tuple[int, dict[str, int], list[str]]:
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for position, cell in enumerate(row):
            name = field_for(cell)
            if name and name not in columns:
                columns[name] = position
        if "identity_number" in columns or len(columns) >= 2:
            return index, columns, [_text(c) for c in row]
    raise FileRejected(
        _("没有找到表头：前%(n)d行中没有“身份证号码”“姓名”等列名。请使用导入模板，表头放在第一行。") % {"n": HEADER_SEARCH_ROWS},
        code="no_header",
    )


def parse(table: Table, *, final_grade: int, today: datetime.date | None = None, progress: Callable[[int, int], None] | None = None) -> ParsedFile:
    today = today or timezone.localdate()
    head: list[list] = []
    rows = table.rows
    for row in rows:
        head.append(list(row))
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    if not any(any(not _blank(c) for c in r) for r in head):
        raise FileRejected(_("工作表是空的，没有任何数据。"), code="empty_sheet")
    header_index, columns, header = find_header(head)
    missing = [label(name) for name in REQUIRED if name not in columns]
    if missing:
        raise FileRejected(
            _("表头缺少必填列：%(cols)s。现有列：%(have)s。请使用导入模板。") % {"cols": "、".join(missing), "have": "、".join(h for h in header if h) or "-"},
            code="missing_columns",
        )
    data_rows = max(table.total - header_index - 1, 0)
    if data_rows > settings.IMPORT_MAX_ROWS:
        raise FileRejected(
            _("文件有%(rows)d行数据，超过单次导入上限%(limit)d行；请分成多个文件导入。") % {"rows": data_rows, "limit": settings.IMPORT_MAX_ROWS},
            code="too_many_rows",
        )
    parsed = ParsedFile(header=header, columns=columns, total=data_rows)
    first_row_number = 1

    def remaining():
        yield from head[header_index + 1:]
        yield from rows

    seen_rows = 0
    for offset, row in enumerate(remaining()):
        number = first_row_number + header_index + 1 + offset
        if all(_blank(c) for c in row):
            continue
        seen_rows += 1
        if seen_rows > settings.IMPORT_MAX_ROWS:
            raise FileRejected(
                _("文件数据行超过单次导入上限%(limit)d行；请分成多个文件导入。") % {"limit": settings.IMPORT_MAX_ROWS}, code="too_many_rows"
            )
        _parse_row(parsed, row, number, final_grade=final_grade, today=today)
        if progress and seen_rows % PROGRESS_EVERY == 0:
            progress(seen_rows, parsed.total)
    if seen_rows == 0:
        raise FileRejected(_("表头下面没有学生数据。"), code="empty_sheet")
    parsed.total = seen_rows
    return parsed


def _cell(row: list, columns: dict[str, int], name: str):
    position = columns.get(name)
    if position is None or position >= len(row):
        return None
    return row[position]


def _parse_row(parsed: ParsedFile, row: list, number: int, *, final_grade: int, today: datetime.date) -> None:
    columns = parsed.columns
    errors: list[RowError] = []

    def fail(name: str, message: str):
        errors.append(RowError(row=number, column=label(name), message=message))

    values: dict = {}
    raw_id = _cell(row, columns, "identity_number")
    document = None
    kind = ""
    if "document_type" in columns:
        try:
            kind = identity.document_type_of(_cell(row, columns, "document_type"))
        except ValidationError as exc:
            fail("document_type", exc.messages[0])
    if isinstance(raw_id, int | float) and not isinstance(raw_id, bool) or (isinstance(raw_id, str) and _SCIENTIFIC.match(raw_id.strip())):
        fail(
            "identity_number",
            _("身份证号码被 Excel 存成了数字，后几位已经丢失（变成0或科学计数法）。请把该列单元格格式设置为“文本”，重新填写完整号码后再导入。"),
        )
    elif not errors:
        try:
            document = identity.parse(raw_id, kind or None, today=today)
        except ValidationError as exc:
            fail("identity_number", exc.messages[0])
    number_id = document.number if document else ""
    values["document_type"] = document.type if document else kind

    # No NFKC here: it would rewrite CJK compatibility ideographs, which some registered names use.
    raw_name = _cell(row, columns, "name")
    name = ("" if raw_name is None else str(raw_name)).translate(_DOTS)
    name = " ".join(name.split())
    if not name:
        fail("name", _("姓名不能为空。"))
    elif len(name) > 50:
        fail("name", _("姓名过长（超过50个字）。"))
    values["name"] = name

    sex_text = _text(_cell(row, columns, "sex")).upper()
    sex = {"男": "M", "男性": "M", "M": "M", "女": "F", "女性": "F", "F": "F"}.get(sex_text)
    if sex is None:
        fail("sex", _("性别应填“男”或“女”，实际为“%(v)s”。") % {"v": sex_text} if sex_text else _("性别不能为空。"))
    values["sex"] = sex

    birth = _date(_cell(row, columns, "birth_date"))
    if birth is None:
        raw_birth = _text(_cell(row, columns, "birth_date"))
        fail("birth_date", _("出生日期“%(v)s”无法识别，请写成 2010-03-15 的格式。") % {"v": raw_birth} if raw_birth else _("出生日期不能为空。"))
    elif birth > today:
        fail("birth_date", _("出生日期%(d)s晚于今天。") % {"d": birth.isoformat()})
    values["birth_date"] = birth

    if document is not None:
        if birth is not None and birth <= today and document.birth_date is not None and birth != document.birth_date:
            fail("birth_date", _("出生日期与证件号码不一致（号码中为%(date)s）。") % {"date": document.birth_date.isoformat()})
        if sex is not None and document.sex is not None and sex != document.sex:
            fail("sex", _("性别与证件号码不一致（号码表示%(sex)s）。") % {"sex": _("男") if document.sex == "M" else _("女")})

    grade = _grade(_cell(row, columns, "grade"))
    if grade is None:
        raw_grade = _text(_cell(row, columns, "grade"))
        fail("grade", _("年级“%(v)s”无法识别，请填写数字1至%(max)d。") % {"v": raw_grade, "max": final_grade} if raw_grade else _("年级不能为空。"))
    elif not 1 <= grade <= final_grade:
        fail("grade", _("年级%(g)d超出本校年级范围（1至%(max)d）。") % {"g": grade, "max": final_grade})
    values["grade"] = grade

    if "class_name" in columns:
        class_name = _text(_cell(row, columns, "class_name"))
        if len(class_name) > 50:
            fail("class_name", _("班级名称过长（超过50个字）。"))
        values["class_name"] = class_name
    if "hukou" in columns:
        hukou = _text(_cell(row, columns, "hukou"))
        values["hukou_local"] = not any(word in hukou for word in _NON_LOCAL)
        values["hukou_rural"] = ("农村" in hukou or "农业" in hukou) and "非农" not in hukou
    if "medical_assistance" in columns:
        assistance = _text(_cell(row, columns, "medical_assistance"))
        if assistance.lower() in _FALSE:
            values["medical_assistance"] = MedicalAssistance.NONE
        elif "民政" in assistance:
            values["medical_assistance"] = MedicalAssistance.CIVIL_AFFAIRS
        elif "残联" in assistance or "残疾人联合会" in assistance:
            values["medical_assistance"] = MedicalAssistance.DISABLED_FEDERATION
        else:
            fail("medical_assistance", _("医疗救助应填“民政”“残联”或留空，实际为“%(v)s”。") % {"v": assistance})
    for flag in ("public_funded_care", "has_citizen_card"):
        if flag in columns:
            text = _text(_cell(row, columns, flag)).lower()
            if text in _TRUE:
                values[flag] = True
            elif text in _FALSE:
                values[flag] = False
            else:
                fail(flag, _("应填“是”或“否”，实际为“%(v)s”。") % {"v": text})

    if number_id and not errors:
        first = parsed.row_of.get(number_id)
        if first is not None:
            fail("identity_number", _("与第%(row)d行的身份证号码重复。") % {"row": first})
    if errors:
        parsed.errors.extend(errors)
        parsed.raw_rows[number] = list(row)
        return
    parsed.row_of[number_id] = number
    parsed.valid[number_id] = values


def _date(value) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if _blank(value) or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        text = str(int(value))
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().split(" ")[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _grade(value) -> int | None:
    if isinstance(value, bool) or _blank(value):
        return None
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() else None
    text = unicodedata.normalize("NFKC", str(value)).strip().replace("年级", "").replace("级", "")
    if text.isdigit():
        return int(text)
    offset = 0
    if text[:1] in _GRADE_PREFIX:
        offset, text = _GRADE_PREFIX[text[0]], text[1:]
    if text.isdigit():
        return int(text) + offset
    if text in _CN_DIGITS:
        return _CN_DIGITS[text] + offset
    return None
