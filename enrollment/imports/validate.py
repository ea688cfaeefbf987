"""Row-by-row validation: every row is checked and every problem reported before anything is written."""

import datetime
import operator
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from enrollment import rules
from enrollment.imports.columns import REQUIRED, field_for, label
from enrollment.imports.errors import FileRejected, RowError
from enrollment.imports.reader import Table

HEADER_SEARCH_ROWS = 10
PROGRESS_EVERY = 2000

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

    def __post_init__(self):
        # The row's cells in ``columns`` order in one C call, for rows as wide as the header's last column.
        positions = list(self.columns.values())
        self.last_column = max(positions, default=-1)
        self.pick = operator.itemgetter(*positions) if len(positions) > 1 else (lambda row: (row[positions[0]],) if positions else ())

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
    """Check every row of the table; the file's verdict (header, limits) raises ``FileRejected``."""
    parsed, checked = parse_start(table, final_grade=final_grade, today=today, progress=progress)
    for _valid in checked:
        pass
    return parsed


def parse_start(
    table: Table, *, final_grade: int, today: datetime.date | None = None, progress: Callable[[int, int], None] | None = None,
) -> tuple[ParsedFile, Iterator[tuple[str, dict]]]:
    """Find and check the header now; return the file and an iterator that checks the rows as it is read.

    The iterator yields each valid row (identity number, normalised values) as soon as it is
    checked, so a caller can write it while the next rows are checked (the import streams new
    students into COPY this way). Errors collect in ``ParsedFile.errors``; a file-level verdict
    (too many rows, no data) is raised by the iterator. ``ParsedFile.total`` is final once the
    iterator is exhausted.
    """
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

    def remaining():
        yield from head[header_index + 1:]
        yield from rows

    return parsed, _checked_rows(parsed, remaining(), first_number=header_index + 2, final_grade=final_grade, today=today, progress=progress)


def _checked_rows(parsed: ParsedFile, rows, *, first_number: int, final_grade: int, today: datetime.date, progress) -> Iterator[tuple[str, dict]]:
    seen_rows = 0
    max_rows = settings.IMPORT_MAX_ROWS  # a lazy setting: read once, not per row
    for offset, row in enumerate(rows):
        number = first_number + offset
        first = row[0] if row else None
        # A first cell with text is not blank: the per-cell scan only for the other rows.
        if not (first.__class__ is str and first and not first.isspace()) and all(_blank(c) for c in row):
            continue
        seen_rows += 1
        if seen_rows > max_rows:
            raise FileRejected(
                _("文件数据行超过单次导入上限%(limit)d行；请分成多个文件导入。") % {"limit": max_rows}, code="too_many_rows"
            )
        valid = _parse_row(parsed, row, number, final_grade=final_grade, today=today)
        if progress and seen_rows % PROGRESS_EVERY == 0:
            progress(seen_rows, parsed.total)
        if valid is not None:
            yield valid
    if seen_rows == 0:
        raise FileRejected(_("表头下面没有学生数据。"), code="empty_sheet")
    parsed.total = seen_rows


def _parse_row(parsed: ParsedFile, row: list, number: int, *, final_grade: int, today: datetime.date) -> tuple[str, dict] | None:
    """Check one row: its (identity number, values) when valid, else None with its errors recorded."""
    columns = parsed.columns
    if len(row) > parsed.last_column:
        data = dict(zip(columns, parsed.pick(row), strict=True))
    else:
        data = {name: (row[position] if position < len(row) else None) for name, position in columns.items()}
    values, found = rules.check_student(data, final_grade=final_grade, today=today)
    errors = [RowError(row=number, column=label(name), message=message) for name, message in found.items()] if found else []
    number_id = values.pop("identity_number", "")

    if number_id and not errors:
        first = parsed.row_of.get(number_id)
        if first is not None:
            errors.append(RowError(row=number, column=label("identity_number"), message=_("与第%(row)d行的身份证号码重复。") % {"row": first}))
    if errors:
        parsed.errors.extend(errors)
        parsed.raw_rows[number] = list(row)
        return None
    parsed.row_of[number_id] = number
    parsed.valid[number_id] = values
    return number_id, values


