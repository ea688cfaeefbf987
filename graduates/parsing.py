"""Reading and checking graduate feeds: every row is checked before anything is stored.

Files come as .xlsx (read with python-calamine) or .csv (UTF-8, with or
without BOM, or GBK as Excel saves it on Chinese Windows); the source systems
may also post JSON records. Column headings may be Chinese or the English
field names.
"""

import datetime
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from enrollment import identity, rules
from enrollment.imports import intake

FIELDS = ("identity_number", "name", "school_code", "graduation_date", "class_name")
REQUIRED = ("identity_number", "name", "school_code", "graduation_date")

HEADINGS = {
    "identity_number": ("身份证号码", "身份证号", "证件号码", "公民身份号码", "identity_number"),
    "name": ("姓名", "学生姓名", "name"),
    "school_code": ("学校代码", "学校编码", "学校标识码", "school_code"),
    "graduation_date": ("毕业日期", "毕业时间", "graduation_date"),
    "class_name": ("班级", "class_name", "class"),
}


def column_label(field: str) -> str:
    return HEADINGS[field][0]


@dataclass(frozen=True)
class FeedError:
    row: int | None
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self):
        where = _("第%(row)d行") % {"row": self.row} if self.row else _("文件")
        if self.column:
            where += _("“%(column)s”列") % {"column": self.column}
        return f"{where}：{self.message}"


class FeedRefused(ValidationError):
    """The feed was refused as a whole; ``errors`` says what and where."""

    def __init__(self, errors: list[FeedError], *, file_name: str = ""):
        self.errors = errors
        self.file_name = file_name
        shown = "；".join(str(e) for e in errors[:20])
        more = _("（另有%(n)d处错误）") % {"n": len(errors) - 20} if len(errors) > 20 else ""
        prefix = _("文件“%(name)s”未接收：") % {"name": file_name} if file_name else _("数据未接收：")
        super().__init__(prefix + shown + more, code="feed_refused")

    @property
    def report(self) -> list[dict]:
        return [e.as_dict() for e in self.errors]


def read_table(content: bytes, file_name: str) -> list[list]:
    """Rows of cells, heading first; raise FeedRefused when the file cannot be read at all."""
    try:
        # The one intake for uploaded lists: real type, size and archive checks, calamine, CSV in UTF-8 or GBK.
        return intake.read_rows(content, file_name, text_extensions=(".txt",))
    except intake.FileRejected as exc:
        raise FeedRefused([FeedError(None, "", exc.messages[0])], file_name=file_name) from exc


def rows_from_table(table: list[list], *, file_name: str = "") -> list[tuple[int, dict]]:
    """(row number as people count it in the file, {field: raw value}) for each non-blank data row."""
    if not table:
        raise FeedRefused([FeedError(None, "", _("文件为空。"))], file_name=file_name)
    try:
        # Headings are matched as every list's are (NFKC, no spaces, no required-mark asterisks, any case).
        columns = intake.map_columns(table[0], HEADINGS, required=REQUIRED)
    except intake.MissingColumns as exc:
        raise FeedRefused(
            [FeedError(1, column_label(field), _("缺少必需的列“%(column)s”。") % {"column": column_label(field)}) for field in exc.missing],
            file_name=file_name,
        ) from exc
    rows = []
    for offset, row in enumerate(table[1:], start=2):
        values = {field: (row[index] if index < len(row) else None) for field, index in columns.items()}
        if all(v is None or str(v).strip() == "" for v in values.values()):
            continue
        rows.append((offset, values))
    return rows


def rows_from_records(records) -> list[tuple[int, dict]]:
    """JSON records posted by a source system; row numbers count from 1."""
    if not isinstance(records, list):
        raise FeedRefused([FeedError(None, "records", _("records必须是记录列表。"))])
    rows = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise FeedRefused([FeedError(number, "", _("每条记录必须是一个对象。"))])
        rows.append((number, {field: record.get(field) for field in FIELDS if field in record}))
    return rows


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value or "")))
    text = re.sub(r"(T|\b)00:00:00(\.0+)?$", "", text)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                parsed = datetime.date(year, month, day)
            except ValueError:
                break
            if 1990 <= parsed.year <= 2100:
                return parsed
            break
    raise ValueError(text)


def clean_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(unicodedata.normalize("NFKC", str(value)).split())


# Full-width ASCII (Ａ-Ｚ, ａ-ｚ, the ideographic space) as school-roll systems send it, folded to half width.
# Only these: NFKC would also rewrite the CJK compatibility ideographs some registered names use.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_full_width(value):
    return value.translate(_FULL_WIDTH) if isinstance(value, str) else value


def validate_rows(rows: list[tuple[int, dict]], *, file_name: str = "") -> list[dict]:
    """Check every row and return them cleaned, or raise FeedRefused listing every problem found."""
    if not rows:
        raise FeedRefused([FeedError(None, "", _("没有毕业生记录。"))], file_name=file_name)
    limit = settings.IMPORT_MAX_ROWS
    if len(rows) > limit:
        raise FeedRefused(
            [FeedError(None, "", _("记录数%(count)d超过上限%(limit)d，请分批报送。") % {"count": len(rows), "limit": limit})],
            file_name=file_name,
        )
    errors: list[FeedError] = []
    cleaned: list[dict] = []
    seen: dict[str, int] = {}
    for number, values in rows:
        row_errors = []
        raw_id = values.get("identity_number")
        if isinstance(raw_id, float) and raw_id.is_integer():
            raw_id = int(raw_id)
        try:
            number_ok = identity.validate(raw_id)
        except ValidationError as exc:
            number_ok = None
            row_errors.append(FeedError(number, column_label("identity_number"), exc.messages[0]))
        # The students' own name rule (identity-document characters, at most 50): a feed name that breaks it
        # could never match a student, and would reach exports and pages as it came.
        try:
            name = rules.name(fold_full_width(values.get("name")))
        except ValidationError as exc:
            name = ""
            row_errors.append(FeedError(number, column_label("name"), exc.messages[0]))
        school_code = clean_text(values.get("school_code")).replace(" ", "")
        if not school_code:
            row_errors.append(FeedError(number, column_label("school_code"), _("学校代码不能为空。")))
        elif len(school_code) > 30:
            row_errors.append(FeedError(number, column_label("school_code"), _("学校代码不能超过30个字符。")))
        raw_date = values.get("graduation_date")
        graduation_date = None
        if raw_date is None or str(raw_date).strip() == "":
            row_errors.append(FeedError(number, column_label("graduation_date"), _("毕业日期不能为空。")))
        else:
            try:
                graduation_date = parse_date(raw_date)
            except ValueError:
                row_errors.append(
                    FeedError(
                        number,
                        column_label("graduation_date"),
                        _("毕业日期“%(value)s”无法识别，请使用如2025-06-30的格式。") % {"value": clean_text(raw_date)},
                    )
                )
        class_name = clean_text(values.get("class_name"))[:50]
        if number_ok:
            if number_ok in seen:
                row_errors.append(
                    FeedError(
                        number,
                        column_label("identity_number"),
                        _("身份证号码与第%(row)d行重复。") % {"row": seen[number_ok]},
                    )
                )
            else:
                seen[number_ok] = number
        if row_errors:
            errors.extend(row_errors)
            continue
        cleaned.append(
            {
                "row_number": number,
                "identity_number": number_ok,
                "name": name,
                "school_code": school_code,
                "graduation_date": graduation_date,
                "class_name": class_name,
            }
        )
    if errors:
        raise FeedRefused(errors, file_name=file_name)
    return cleaned


def content_hash(cleaned: list[dict]) -> str:
    """SHA-256 of a feed's graduates, independent of how they were encoded.

    The same graduates arrive as a CSV with or without a byte-order mark, with CRLF
    or LF line ends, in GBK or UTF-8, as a workbook, or as JSON records: each is
    read and cleaned into the same records (identity number, name, school code,
    ISO graduation date, class), which are hashed in identity-number order. Row
    numbers and the order of rows are left out: they say nothing about who graduated.
    """
    import hashlib
    import json

    canonical = sorted(
        (r["identity_number"], r["name"], r["school_code"], r["graduation_date"].isoformat(), r["class_name"])
        for r in cleaned
    )
    data = json.dumps(canonical, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(b"graduate-feed-v1\n" + data).hexdigest()
