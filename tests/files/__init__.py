"""Generators of the spreadsheets the import tests upload: good lists and a corpus of bad files.

Files are built in memory on each run (nothing binary is committed), each bad
one paired with the message a coordinator must see.
"""

import csv
import datetime
import io
import zipfile

from openpyxl import Workbook

from enrollment import identity

HEADER = ["姓名", "身份证号码", "性别", "出生日期", "年级", "班级", "户籍"]



def chinese_digits(n: int) -> str:
    """A number as Chinese digits (12 -> 一二): names hold no Arabic digits."""
    return "".join("零一二三四五六七八九"[int(d)] for d in str(n))


def student_row(seq: int, *, name: str | None = None, grade: int = 5, class_name: str = "5班", hukou: str = "本市城镇",
                birth: datetime.date = datetime.date(2012, 4, 1), region: str = "440104") -> list:
    number = identity.generate(region=region, birth=birth, sequence=seq)
    return [name or f"学生{chinese_digits(seq)}", number, "男" if identity.sex(number) == "M" else "女", birth.isoformat(), grade, class_name, hukou]


def rows(count: int, start: int = 1, **kwargs) -> list[list]:
    return [student_row(seq, **kwargs) for seq in range(start, start + count)]


def xlsx(data: list[list], header: list | None = HEADER, *, id_as_text: bool = True, title_rows: list | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for extra in title_rows or []:
        sheet.append(extra)
    if header is not None:
        sheet.append(header)
    id_col = header.index("身份证号码") if header and "身份证号码" in header else None
    for row in data:
        sheet.append(row)
        if id_col is not None and id_as_text:
            sheet.cell(row=sheet.max_row, column=id_col + 1).number_format = "@"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xls(data: list[list], header: list = HEADER) -> bytes:
    """The old Excel 97-2003 format, as some school systems still export it."""
    import xlwt

    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet("学生名单")
    for r, row in enumerate([header, *data]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(data: list[list], header: list = HEADER, *, encoding: str = "utf-8", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(data)
    raw = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + raw) if bom else raw


def zip_bomb() -> bytes:
    """A small .xlsx-looking archive whose sheet claims to unpack to about 4 GB.

    The sizes in the headers are forged rather than compressing gigabytes of zeros,
    which keeps the test fast; the check reads exactly these header fields.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 100_000)
    data = bytearray(buffer.getvalue())
    huge = (0xFFFFFFF0).to_bytes(4, "little")
    name = b"xl/worksheets/sheet1.xml"
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_at = start + (46 if signature == b"PK\x01\x02" else 30)
            if data[name_at:name_at + len(name)] == name:
                data[start + offset:start + offset + 4] = huge
            start += 4
    return bytes(data)


def many_entries() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for index in range(1200):
            archive.writestr(f"xl/worksheets/sheet{index}.xml", "<x/>")
    return buffer.getvalue()


def ole_container() -> bytes:
    """What an encrypted .xlsx looks like: a Compound File (OLE) container, not a zip."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4088


def truncated_xlsx() -> bytes:
    good = xlsx(rows(3))
    return good[: len(good) // 2]


def bad_files() -> list[tuple[str, str, object, str]]:
    """(case id, file name, content or a function building it, fragment of the expected message)."""
    return [
        ("wrong_extension", "students.pdf", b"%PDF-1.4 ...", "类型不受支持"),
        ("png_disguised_as_xlsx", "students.xlsx", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "PNG图片"),
        ("text_disguised_as_xlsx", "students.xlsx", "姓名,身份证号码\n".encode(), "不是 Excel 工作簿"),
        ("xlsx_disguised_as_csv", "students.csv", lambda: xlsx(rows(2)), "扩展名改为 .xlsx"),
        ("corrupt_archive", "students.xlsx", lambda: truncated_xlsx(), "已损坏"),
        ("zip_bomb", "students.xlsx", lambda: zip_bomb(), "疑似恶意压缩文件"),
        ("too_many_entries", "students.xlsx", lambda: many_entries(), "疑似恶意压缩文件"),
        ("password_protected", "students.xlsx", lambda: ole_container(), "密码"),
        ("empty_file", "students.xlsx", b"", "空文件"),
        ("empty_sheet", "students.xlsx", lambda: xlsx([], header=None), "工作表是空的"),
        ("header_only", "students.csv", lambda: csv_bytes([]), "没有学生数据"),
        ("missing_header", "students.xlsx", lambda: xlsx(rows(3), header=None), "没有找到表头"),
        ("missing_required_column", "students.xlsx", lambda: xlsx([r[:4] for r in rows(2)], header=HEADER[:4]), "缺少必填列：年级"),
    ]
