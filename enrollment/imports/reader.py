"""Rows out of .xlsx/.xls (python-calamine, fast and streaming) and .csv (UTF-8 or GBK, with or without BOM)."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.translation import gettext as _
from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from enrollment.imports.errors import FileRejected
from enrollment.imports.sniff import CSV


@dataclass
class Table:
    sheet: str
    total: int
    rows: Iterator[list]


def read_table(path: str, kind: str, name: str) -> Table:
    if kind == CSV:
        return _read_csv(path, name)
    return _read_workbook(path, name)


def _read_workbook(path: str, name: str) -> Table:
    try:
        workbook = CalamineWorkbook.from_path(path)
        if not workbook.sheet_names:
            raise FileRejected(_("文件“%(name)s”中没有工作表。") % {"name": name}, code="empty_sheet")
        sheet = workbook.get_sheet_by_index(0)
        rows = sheet.iter_rows()
        total = sheet.height
    except PasswordError as exc:
        raise FileRejected(
            _("文件“%(name)s”设置了密码，无法读取；请在 Excel 中取消密码后另存再上传。") % {"name": name}, code="encrypted"
        ) from exc
    except FileRejected:
        raise
    except (CalamineError, Exception) as exc:  # calamine raises several unrelated types for broken files
        raise FileRejected(
            _("文件“%(name)s”已损坏或格式不正确，无法读取；请用 Excel 打开后另存为 .xlsx 再上传。") % {"name": name}, code="corrupt"
        ) from exc
    return Table(sheet=sheet.name, total=total, rows=_guard(rows, name))


def _guard(rows, name):
    try:
        yield from rows
    except Exception as exc:  # a broken sheet may only fail part-way through
        raise FileRejected(
            _("文件“%(name)s”已损坏，读取到一半失败；请用 Excel 打开后另存为 .xlsx 再上传。") % {"name": name}, code="corrupt"
        ) from exc


def decode_text(raw: bytes, name: str) -> str:
    """CSV or text bytes as text: UTF-8 (BOM or not) when they are valid UTF-8, else GB18030 (a superset of GBK)."""
    # Excel on Chinese Windows saves CSV as GBK; elsewhere UTF-8, often with a BOM.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileRejected(  # pragma: no cover - gb18030 decodes almost any byte string
        _("文件“%(name)s”的文字编码无法识别，请另存为 UTF-8 编码的 CSV。") % {"name": name}, code="encoding"
    )


def _read_csv(path: str, name: str) -> Table:
    with open(path, "rb") as handle:
        raw = handle.read()
    text = decode_text(raw, name)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    return Table(sheet="", total=len(rows), rows=iter(rows))
