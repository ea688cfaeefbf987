"""The one way into the system for spreadsheets and CSV files, whoever sends them.

Student lists, exemption lists, graduate feeds, e-receipt lists and bank result
files all come in here: the real type is sniffed from the bytes (a renamed
file is refused), the size and the inside of an .xlsx are checked before any
parser runs (decompression bombs), workbooks are read with python-calamine and
CSV text is decoded as UTF-8 (with or without BOM) or GBK/GB18030, as Excel on
Chinese Windows saves it. Headers are mapped to fields by their spellings, and
problems of single cells are ``RowError`` (row as Excel counts it, column
header, message), so every source reports errors the same way.
"""

import os
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.utils.translation import gettext as _

from enrollment.imports.errors import FileRejected, RowError
from enrollment.imports.reader import Table, decode_text, read_table
from enrollment.imports.sniff import CSV, XLS, XLSX, sniff

__all__ = ["CSV", "XLS", "XLSX", "FileRejected", "MissingColumns", "RowError", "Table", "decode_text", "guard_text", "header_key",
           "map_columns", "open_table", "read_rows"]

SPREADSHEETS = (XLSX, XLS, CSV)


def _content(upload) -> bytes:
    data = upload.read() if hasattr(upload, "read") else upload
    if isinstance(data, str):
        data = data.encode("utf-8")
    return bytes(data)


def open_table(path: str, name: str, *, text_extensions: Iterable[str] = ()) -> Table:
    """Sniff and read a file on disk (large imports stream their rows from here)."""
    kind = sniff(path, name, text_extensions=text_extensions)
    return read_table(path, kind, name)


def read_rows(upload, name: str, *, text_extensions: Iterable[str] = ()) -> list[list]:
    """All rows of the first sheet (or of the CSV text) of an upload given as bytes or a file object.

    ``text_extensions`` adds extensions read as CSV text (a feed may come as ``.txt``).
    Raises ``FileRejected`` (a ValidationError) saying what is wrong with the file.
    """
    data = _content(upload)
    suffix = os.path.splitext(name or "")[1].lower()
    # Sniffing and calamine read from a path: a temporary file costs nothing next to parsing.
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(data)
        handle.flush()
        table = open_table(handle.name, name or os.path.basename(handle.name), text_extensions=text_extensions)
        return [list(row) for row in table.rows]


def guard_text(content: bytes, name: str) -> bytes:
    """Checks for a fixed-layout text file (a bank's result file): not empty, not too big, not binary."""
    if not content:
        raise FileRejected(_("文件“%(name)s”是空文件（0字节），请检查后重新上传。") % {"name": name}, code="empty_file")
    if len(content) > settings.UPLOAD_MAX_BYTES:
        raise FileRejected(
            _("文件“%(name)s”大小为%(size).1fMB，超过上限%(limit).1fMB。")
            % {"name": name, "size": len(content) / 1048576, "limit": settings.UPLOAD_MAX_BYTES / 1048576},
            code="too_large",
        )
    if b"\x00" in content[:8192]:
        raise FileRejected(_("文件“%(name)s”不是文本文件（含有二进制内容），请上传银行返回的原始结果文件。") % {"name": name}, code="disguised")
    return content


class MissingColumns(FileRejected):
    """The header row lacks required columns; ``missing`` lists their fields in the order required."""

    def __init__(self, message: str, *, missing: list[str]):
        super().__init__(message, code="missing_columns")
        self.missing = missing


def header_key(value) -> str:
    """A header cell as compared with the known spellings: NFKC, no spaces, no required-mark asterisks."""
    text = unicodedata.normalize("NFKC", str(value if value is not None else ""))
    return "".join(text.split()).strip("*:：").lower()


def map_columns(header: list, spellings: Mapping[str, Iterable[str]], *, required: Iterable[str] = (),
                labels: Mapping[str, str] | None = None) -> dict[str, int]:
    """{field: column index} for the header row; raise MissingColumns (a FileRejected) naming the missing required columns."""
    lookup = {header_key(spelling): field for field, names in spellings.items() for spelling in names}
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        field = lookup.get(header_key(cell))
        if field and field not in columns:
            columns[field] = index
    missing = [field for field in required if field not in columns]
    if missing:
        names = "、".join(str((labels or {}).get(f, f)) for f in missing)
        have = "、".join(str(c) for c in header if c not in (None, "")) or "-"
        raise MissingColumns(_("第1行表头缺少必填列：%(cols)s。现有列：%(have)s。") % {"cols": names, "have": have}, missing=missing)
    return columns


def column_letter(index: int) -> str:
    """Excel's name of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
