"""Rendering personal rights records for a large school, against a bare reportlab baseline.

Run: .venv/bin/python bench/rights_records_pdf.py   (BENCH_PAGES, default 2,000; no database needed)
Times ``render_rights_records`` (layout with tables, per-character font fallback, one page per student,
the voucher slip) and, in the same run, a bare baseline: a reportlab canvas drawing the same strings
line by line with the same embedded font, one page per student, no layout. Prints both, the ratio, and
the process's peak memory (the story is produced record by record, so it stays flat as pages grow).
It writes no rows: its floor is that bare canvas (the same strings, the same font, one page per
student), which is also the baseline it was measured against before, so both ratios are the same.
"""

import datetime
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

from coordinators.documents import FONT_MAIN, Contact, RightsRecord, fonts, render_rights_records  # noqa: E402

N = int(os.environ.get("BENCH_PAGES", "2000"))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗𠮷"


def records():
    hotlines = (Contact("参保登记咨询", "12333，69820471", "平泷路251号城市生活广场6楼"), Contact("申报缴费咨询", "12366"))
    for i in range(N):
        yield RightsRecord(
            student_name=SURNAMES[i % len(SURNAMES)] + "小明", masked_identity_number=f"**************{i % 10000:04d}",
            school_name="越秀区第一中学", class_label=f"{i % 12 + 1}年级{i % 8 + 1}班", city_name="广州市",
            insurance_year_label="2015", channel="学校代办", fee_due=Decimal("200.00"), exemption_category="",
            payment_status="已缴费", paid_on=datetime.date(2014, 10, 8), receipt_number=f"R{i:010d}",
            coverage_start=datetime.date(2015, 1, 1), coverage_end=datetime.date(2015, 12, 31), covered=i % 10 != 0,
            office_name="越秀分局", office_address="越秀区梅东路28号4-6楼", office_liaison="崔安琪", office_phone="87660419",
            hotlines=hotlines,
        )


def baseline(path):
    c = canvas.Canvas(path, pagesize=A4)
    for record in records():
        c.setFont(FONT_MAIN, 10.5)
        y = 800
        for value in (record.student_name, record.masked_identity_number, record.school_name, record.class_label,
                      record.insurance_year_label, record.channel, f"{record.fee_due}", record.payment_status,
                      record.receipt_number, f"{record.coverage_start}至{record.coverage_end}", record.office_name,
                      record.office_address, *(h.phone for h in record.hotlines)):
            c.drawString(60, y, value)
            y -= 20
        c.showPage()
    c.save()


def main():
    fonts()  # font parsing is a one-off per worker process: not part of either figure
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        baseline(os.path.join(tmp, "bare.pdf"))
        bare = time.perf_counter() - start
        start = time.perf_counter()
        pages = render_rights_records(records(), os.path.join(tmp, "records.pdf"))
        ours = time.perf_counter() - start
        size = os.path.getsize(os.path.join(tmp, "records.pdf"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pages: {pages}")
    print(f"floor (= old baseline), bare canvas: {bare:.2f} s ({N / bare:.0f} pages/s)")
    print(f"render_rights_records: {ours:.2f} s ({pages / ours:.0f} pages/s), {size / pages / 1024:.1f} KiB/page")
    print(f"floor ratio: {ours / bare:.1f}x the bare canvas; old ratio: {ours / bare:.1f}x (the same baseline)")
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
