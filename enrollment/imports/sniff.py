"""What an uploaded file really is, judged by its bytes rather than its name.

Checks run before any parser touches the file, so a disguised, truncated,
encrypted or decompression-bomb file is refused with a message a coordinator
can act on, and never reaches the spreadsheet reader.
"""

import os
import zipfile

from django.conf import settings
from django.utils.translation import gettext as _

from enrollment.imports.errors import FileRejected

XLSX, XLS, CSV = "xlsx", "xls", "csv"
ALLOWED_EXTENSIONS = {".xlsx": XLSX, ".xls": XLS, ".csv": CSV}

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Limits for the inside of an .xlsx: a 100,000-row register unpacks to a few
# tens of MB in a handful of entries; anything far beyond is a decompression bomb.
MAX_ZIP_ENTRIES = 1000
MAX_UNCOMPRESSED_BYTES = 400 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200

_OTHER_MAGIC = [
    (b"%PDF", _("PDF文档")),
    (b"\x89PNG", _("PNG图片")),
    (b"\xff\xd8\xff", _("JPEG图片")),
    (b"GIF8", _("GIF图片")),
    (b"MZ", _("可执行程序")),
    (b"Rar!", _("RAR压缩包")),
    (b"7z\xbc\xaf", _("7z压缩包")),
    (b"\x1f\x8b", _("gzip压缩包")),
    (b"{\\rtf", _("RTF文档")),
]


def _reject(message: str, code: str):
    raise FileRejected(message, code=code)


def _describe(head: bytes) -> str | None:
    for magic, label in _OTHER_MAGIC:
        if head.startswith(magic):
            return str(label)
    return None


def sniff(path: str, original_name: str, *, text_extensions=()) -> str:
    """Return the kind of file (xlsx, xls or csv) or raise FileRejected with the reason.

    ``text_extensions`` (e.g. ``.txt``) are further names under which CSV text is accepted.
    """
    name = original_name or os.path.basename(path)
    ext = os.path.splitext(name)[1].lower()
    allowed = {**ALLOWED_EXTENSIONS, **{e: CSV for e in text_extensions}}
    if ext not in allowed:
        _reject(
            _("文件“%(name)s”的类型不受支持：请上传 .xlsx、.xls 或 .csv 文件（建议使用下载的导入模板）。") % {"name": name},
            "extension",
        )
    size = os.path.getsize(path)
    if size == 0:
        _reject(_("文件“%(name)s”是空文件（0字节），请检查后重新上传。") % {"name": name}, "empty_file")
    if size > settings.UPLOAD_MAX_BYTES:
        _reject(
            _("文件“%(name)s”大小为%(size).1fMB，超过上限%(limit).1fMB；请分成多个文件导入。")
            % {"name": name, "size": size / 1048576, "limit": settings.UPLOAD_MAX_BYTES / 1048576},
            "too_large",
        )
    with open(path, "rb") as handle:
        head = handle.read(8192)
    declared = allowed[ext]
    other = _describe(head)
    if other:
        _reject(
            _("文件“%(name)s”的扩展名为%(ext)s，但内容实际是%(kind)s，不是表格文件。") % {"name": name, "ext": ext, "kind": other},
            "disguised",
        )
    if head.startswith(ZIP_MAGIC):
        if declared != XLSX:
            _reject(
                _("文件“%(name)s”的扩展名为%(ext)s，但内容是 .xlsx 工作簿或其他压缩文件；请将扩展名改为 .xlsx 或另存为正确格式。")
                % {"name": name, "ext": ext},
                "disguised",
            )
        _check_xlsx_container(path, name)
        return XLSX
    if head.startswith(OLE_MAGIC):
        if declared == XLSX:
            _reject(
                _("文件“%(name)s”不是普通的 .xlsx 工作簿：它设置了打开密码（加密），或是改了扩展名的旧版 .xls 文件。"
                  "请在 Excel 中取消密码（文件→信息→保护工作簿）后另存为 .xlsx 再上传。") % {"name": name},
                "encrypted",
            )
        if declared == CSV:
            _reject(
                _("文件“%(name)s”的扩展名为.csv，但内容是 Excel 97-2003 (.xls) 工作簿；请将扩展名改为 .xls。") % {"name": name},
                "disguised",
            )
        return XLS
    if declared in (XLSX, XLS):
        _reject(
            _("文件“%(name)s”的扩展名为%(ext)s，但内容不是 Excel 工作簿（可能已损坏或只是改了扩展名）。请用 Excel 打开后另存为 .xlsx。")
            % {"name": name, "ext": ext},
            "disguised",
        )
    if b"\x00" in head:
        _reject(_("文件“%(name)s”不是文本格式的 CSV 文件（含有二进制内容）。") % {"name": name}, "disguised")
    return CSV


def _check_xlsx_container(path: str, name: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                _reject(
                    _("文件“%(name)s”内部包含%(count)d个部件，远超正常工作簿，已拒绝处理（疑似恶意压缩文件）。") % {"name": name, "count": len(entries)},
                    "zip_bomb",
                )
            total = 0
            for entry in entries:
                total += entry.file_size
                ratio = entry.file_size / max(entry.compress_size, 1)
                if total > MAX_UNCOMPRESSED_BYTES or (entry.file_size > 10 * 1024 * 1024 and ratio > MAX_COMPRESSION_RATIO):
                    _reject(
                        _("文件“%(name)s”解压后体积异常巨大，已拒绝处理（疑似恶意压缩文件）。请上传正常的学生名单。") % {"name": name},
                        "zip_bomb",
                    )
            names = {entry.filename for entry in entries}
    except zipfile.BadZipFile as exc:
        raise FileRejected(
            _("文件“%(name)s”已损坏（压缩结构不完整），无法读取；请重新保存或重新下载后上传。") % {"name": name}, code="corrupt"
        ) from exc
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/worksheets/") for n in names):
        _reject(
            _("文件“%(name)s”是压缩文件，但不是 Excel 工作簿（缺少工作表）。请上传 .xlsx 格式的学生名单。") % {"name": name},
            "disguised",
        )
