"""Every export the system hands out writes user text as inert text: no formula cell, no CSV field that starts one."""

import csv
import importlib
import io
import pkgutil
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from enrollment.exports import EXPORTS, FORMULA_PREFIXES, XlsxWriter

ROOT = Path(__file__).resolve().parents[2]
APPS = ["enrollment", "coordinators", "billing", "graduates", "bureau"]
PAYLOADS = ['=HYPERLINK("http://x","x")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(A1)", "\tx", "\rx"]
# Every export there is today; the registry may grow, never shrink silently.
KNOWN = {
    "import_template", "import_error_report", "student_register", "roster", "year_end_report", "coordinator_receipts",
    "tax_declaration", "card_maker_list", "coordinator_annex2",
}


def _import_every_module():
    """Exports register themselves when their module loads: load them all, so none is missed."""
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{app}."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)


_import_every_module()


def test_the_registry_holds_every_known_export():
    assert KNOWN <= set(EXPORTS)


def _assert_xlsx_inert(content: bytes, payload: str):
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                xml = archive.read(name).decode()
                assert not re.search(r"<f[ >]", xml), f"formula element in {name}"
    workbook = load_workbook(io.BytesIO(content))
    seen = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_PREFIXES), (sheet.title, cell.coordinate, cell.value)
                    seen.append(cell.value)
    return seen


def _assert_csv_inert(content: bytes):
    seen = []
    for row in csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")):
        for field in row:
            assert not field.startswith(FORMULA_PREFIXES), field
            seen.append(field)
    return seen


@pytest.mark.parametrize("payload", PAYLOADS, ids=["hyperlink", "plus-cmd", "minus", "at-sum", "tab", "carriage-return"])
@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_export_writes_formula_payloads_as_text(name, payload):
    export = EXPORTS[name]
    content = export.probe(payload)
    seen = _assert_xlsx_inert(content, payload) if export.kind == "xlsx" else _assert_csv_inert(content)
    if name != "import_template":  # the template carries no record
        assert "'" + payload.replace("\r", "\n") in [value.replace("\r", "\n") for value in seen] or "'" + payload in seen


def test_the_writer_keeps_numbers_and_dates_as_values_and_formats_text_columns():
    import datetime
    from decimal import Decimal

    writer = XlsxWriter()
    sheet = writer.sheet("a:b/c?" * 10)
    sheet.row([1, Decimal("400.00"), datetime.date(2027, 1, 1), None, "440104201003150011"], text=[4])
    workbook = load_workbook(io.BytesIO(writer.save()))
    (row,) = workbook.worksheets[0].iter_rows()
    assert [c.value for c in row[:3]] == [1, 400, datetime.datetime(2027, 1, 1)]
    assert row[4].value == "440104201003150011" and row[4].number_format == "@"
    assert len(workbook.worksheets[0].title) <= 31


WRITERS = re.compile(
    r"\bWorkbook\(|WriteOnlyCell|csv\.writer|csv\.DictWriter|\.writerow\(|\bxlwt\b|\bxlsxwriter\b|from openpyxl import[^\n]*\bWorkbook\b"
)


def _project_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_no_module_writes_spreadsheets_or_csv_except_through_the_export_writer():
    offenders = []
    for path in _project_modules():
        if path == ROOT / "enrollment" / "exports.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if WRITERS.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "write through enrollment.exports.XlsxWriter/CsvWriter:\n" + "\n".join(offenders)


def test_every_module_using_the_writer_registers_its_export():
    unregistered = [
        str(path.relative_to(ROOT))
        for path in _project_modules()
        if re.search(r"\b(XlsxWriter|CsvWriter)\(", text := path.read_text(encoding="utf-8")) and "register_export(" not in text
    ]
    assert not unregistered, "exports without register_export(...): " + ", ".join(unregistered)
