"""Checks every uploaded file passes before anything parses it.

The size is checked first, then the real type from the file's first bytes:
a renamed file (an executable called ``students.xlsx``, a web page called
``photo.jpg``) is refused before a parser sees it, whatever its name or the
browser's content type say.

Usage::

    from enrollment.uploads import check_upload
    kind = check_upload(request.FILES["file"], kinds={"xlsx", "xls", "csv"}, max_bytes=settings.UPLOAD_MAX_BYTES)
"""

import zipfile

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

KIND_LABELS = {
    "xlsx": "Excel (.xlsx)",
    "xls": "Excel 97-2003 (.xls)",
    "csv": "CSV",
    "pdf": "PDF",
    "jpeg": "JPEG",
    "png": "PNG",
}
KINDS = frozenset(KIND_LABELS)

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_SNIFF_BYTES = 8192


def _detect(head: bytes, file) -> str | None:
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(_OLE_MAGIC):
        return "xls"
    if head.startswith(_ZIP_MAGIC):
        # Any zip is not a workbook: a workbook has the OOXML workbook part.
        try:
            file.seek(0)
            with zipfile.ZipFile(file) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        if "[Content_Types].xml" in names and any(n.startswith("xl/workbook") for n in names):
            return "xlsx"
        return "zip"
    if _looks_like_text(head):
        return "csv"
    return None


def _looks_like_text(head: bytes) -> bool:
    """UTF-8 or GB18030 text (what Excel and WPS save CSV as) without control characters."""
    if not head or b"\x00" in head:
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        # The sample may end inside a multi-byte character: allow up to 3 bytes cut off.
        for cut in range(4):
            try:
                text = head[: len(head) - cut].decode(encoding)
            except UnicodeDecodeError:
                continue
            return not any(ord(ch) < 32 and ch not in "\r\n\t" for ch in text)
    return False


def _size(file) -> int:
    size = getattr(file, "size", None)
    if size is not None:
        return size
    position = file.tell()
    file.seek(0, 2)
    size = file.tell()
    file.seek(position)
    return size


def check_upload(file, *, kinds: set[str], max_bytes: int) -> str:
    """Return the detected kind ("xlsx", "xls", "csv", "pdf", "jpeg", "png") or raise ValidationError.

    ``file`` is an UploadedFile or any seekable binary file object; it is left
    at position 0 for the parser that follows.
    """
    unknown = set(kinds) - KINDS
    if unknown:
        raise ValueError(f"unknown upload kinds: {sorted(unknown)}")
    name = getattr(file, "name", "") or ""
    size = _size(file)
    if size == 0:
        raise ValidationError(_("文件“%(name)s”是空文件，请重新选择。") % {"name": name}, code="upload_empty")
    if size > max_bytes:
        raise ValidationError(
            _("文件“%(name)s”大小为%(size).1f MB，超过上限%(limit).1f MB。")
            % {"name": name, "size": size / 1048576, "limit": max_bytes / 1048576},
            code="upload_too_large",
        )
    file.seek(0)
    head = file.read(_SNIFF_BYTES)
    kind = _detect(head, file)
    file.seek(0)
    if kind not in kinds:
        expected = "、".join(KIND_LABELS[k] for k in sorted(kinds))
        raise ValidationError(
            _("文件“%(name)s”的内容不是允许的格式（%(expected)s），请上传正确的文件，不要只修改扩展名。")
            % {"name": name, "expected": expected},
            code="upload_wrong_type",
        )
    return kind
