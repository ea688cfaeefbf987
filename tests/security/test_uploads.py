"""Uploads are checked for size and real type before any parser sees them."""

import io
import zipfile

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from enrollment.uploads import check_upload

SHEETS = {"xlsx", "xls", "csv"}
PHOTOS = {"jpeg", "png"}
MB = 1024 * 1024


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["姓名", "身份证号码"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _image(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, fmt)
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


def _upload(name, content):
    return SimpleUploadedFile(name, content)


@pytest.mark.parametrize(
    ("name", "content", "kinds", "expected"),
    [
        ("学生.xlsx", _xlsx(), SHEETS, "xlsx"),
        ("学生.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, SHEETS, "xls"),
        ("学生.csv", "姓名,身份证号码\n张三,440104201003150011\n".encode(), SHEETS, "csv"),
        ("学生.csv", "姓名,身份证号码\n张三,440104201003150011\n".encode("gbk"), SHEETS, "csv"),
        ("确认函.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", {"pdf"}, "pdf"),
        ("照片.jpg", _image("JPEG"), PHOTOS, "jpeg"),
        ("照片.png", _image("PNG"), PHOTOS, "png"),
    ],
)
def test_files_of_an_allowed_type_pass_and_are_rewound(name, content, kinds, expected):
    upload = _upload(name, content)
    assert check_upload(upload, kinds=kinds, max_bytes=5 * MB) == expected
    assert upload.tell() == 0


@pytest.mark.parametrize(
    ("name", "content", "kinds"),
    [
        ("学生.xlsx", b"MZ\x90\x00" + b"\x00" * 100, SHEETS),  # a Windows program renamed
        ("学生.xlsx", _zip(), SHEETS),  # a zip that is not a workbook
        ("照片.jpg", b"<html><script>alert(1)</script></html>", PHOTOS),  # a web page renamed
        ("照片.jpg", b"%PDF-1.4\n", PHOTOS),
        ("确认函.pdf", _image("JPEG"), {"pdf"}),
    ],
)
def test_a_renamed_file_of_another_type_is_refused_with_a_chinese_message(name, content, kinds):
    with pytest.raises(ValidationError) as error:
        check_upload(_upload(name, content), kinds=kinds, max_bytes=5 * MB)
    assert error.value.code == "upload_wrong_type"
    assert name in error.value.messages[0]
    assert "不是允许的格式" in error.value.messages[0]


def test_a_file_over_the_limit_is_refused_before_it_is_read():
    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("read before the size check")

    upload = SimpleUploadedFile("学生.xlsx", b"")
    upload.file = Unreadable()
    upload.size = 21 * MB
    with pytest.raises(ValidationError) as error:
        check_upload(upload, kinds=SHEETS, max_bytes=20 * MB)
    assert error.value.code == "upload_too_large"
    assert "超过上限20.0 MB" in error.value.messages[0]


def test_an_empty_file_is_refused():
    with pytest.raises(ValidationError) as error:
        check_upload(_upload("学生.csv", b""), kinds=SHEETS, max_bytes=MB)
    assert error.value.code == "upload_empty"
