"""PDF rendering of the coordinators' printed documents (R17, R18).

Personal rights records with the medical-treatment voucher, one page per
student, and the operation manual. Chinese text is drawn with fonts from
Debian packages embedded in the PDF (no font is fetched at run time):
WenQuanYi Zen Hei for everything it covers, and per character HanaMinB for
rare CJK Extension B characters that appear in people's names (e.g. U+20BB7),
so such a name prints with a real glyph instead of an empty box.
"""

import datetime
import functools
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont
from reportlab.platypus import (
    Image,
    KeepInFrame,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

FONT_MAIN = "DocCJK"
FONT_EXT_B = "DocCJKExtB"
FONT_MAIN_FILE = Path(os.environ.get("PDF_FONT_MAIN", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"))
FONT_EXT_B_FILE = Path(os.environ.get("PDF_FONT_EXT_B", "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf"))


def _utf16_hex(code: int) -> str:
    return code.to_bytes(4, "big").hex().upper()[4:] if code < 0x10000 else "".join(
        f"{unit:04X}" for unit in (0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF))
    )


class EmbeddedFont(TTFont):
    """A TrueType font whose ToUnicode map spells characters beyond U+FFFF as UTF-16 surrogate pairs.

    reportlab writes them as bare code points (``<20BB7>``), which PDF readers reject, so a rare
    character would print but not be found by search, copy or text extraction.
    """

    def addObjects(self, doc):
        state = self.state.get(doc)
        subsets = [list(subset) for subset in state.subsets] if state is not None else []
        super().addObjects(doc)
        for n, subset in enumerate(subsets):
            if all(code < 0x10000 for code in subset):
                continue
            base = (b"".join((SUBSETN(n), b"+", self.face.name, self.face.subfontNameX))).decode("pdfdoc")
            stream = doc.idToObject.get("toUnicodeCMap:" + base)
            if stream is None:
                continue
            lines = stream.content.split("\n")
            start = next(i for i, line in enumerate(lines) if line.endswith("beginbfchar")) + 1
            lines[start : start + len(subset)] = [f"<{i:02X}> <{_utf16_hex(code)}>" for i, code in enumerate(subset)]
            stream.content = "\n".join(lines)


@dataclass(frozen=True)
class Fonts:
    main: TTFont
    ext_b: TTFont | None

    def font_for(self, char: str) -> str:
        code = ord(char)
        if code in self.main.face.charToGlyph or self.ext_b is None:
            return FONT_MAIN
        if code in self.ext_b.face.charToGlyph:
            return FONT_EXT_B
        return FONT_MAIN


@functools.cache
def fonts() -> Fonts:
    """Register the embedded fonts once per process."""
    if not FONT_MAIN_FILE.exists():
        raise ImproperlyConfigured(
            f"The CJK font {FONT_MAIN_FILE} is missing: install the Debian package fonts-wqy-zenhei "
            "(make system-packages)."
        )
    main = EmbeddedFont(FONT_MAIN, str(FONT_MAIN_FILE), subfontIndex=0)
    pdfmetrics.registerFont(main)
    ext_b = None
    if FONT_EXT_B_FILE.exists():
        ext_b = EmbeddedFont(FONT_EXT_B, str(FONT_EXT_B_FILE))
        pdfmetrics.registerFont(ext_b)
    return Fonts(main=main, ext_b=ext_b)


def markup(text: object) -> str:
    """Paragraph markup for ``text``: XML-escaped, characters outside the main font switched per run."""
    chosen = fonts()
    runs: list[tuple[str, list[str]]] = []
    for char in str(text if text is not None else ""):
        font = FONT_MAIN if char in "\n\t " else chosen.font_for(char)
        if runs and runs[-1][0] == font:
            runs[-1][1].append(char)
        else:
            runs.append((font, [char]))
    parts = []
    for font, chars in runs:
        chunk = escape("".join(chars))
        parts.append(chunk if font == FONT_MAIN else f'<font name="{font}">{chunk}</font>')
    return "".join(parts)


@functools.cache
def styles() -> dict[str, ParagraphStyle]:
    fonts()
    base = ParagraphStyle("base", fontName=FONT_MAIN, fontSize=10.5, leading=15, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=12),
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=24, alignment=TA_CENTER, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10.5, alignment=TA_CENTER, spaceAfter=8),
        "h1": ParagraphStyle("h1", parent=base, fontSize=18, leading=26, spaceBefore=6, spaceAfter=10),
        "h2": ParagraphStyle("h2", parent=base, fontSize=14, leading=20, spaceBefore=10, spaceAfter=6),
        "h3": ParagraphStyle("h3", parent=base, fontSize=12, leading=17, spaceBefore=8, spaceAfter=4),
        "list": ParagraphStyle("list", parent=base, leftIndent=14, bulletIndent=2, spaceAfter=2, bulletFontName=FONT_MAIN),
        "cell": ParagraphStyle("cell", parent=base, fontSize=10, leading=14),
        "cell_label": ParagraphStyle("cell_label", parent=base, fontSize=10, leading=14, textColor=colors.HexColor("#333333")),
        "placeholder": ParagraphStyle("placeholder", parent=base, textColor=colors.grey, spaceAfter=6),
    }


def p(text: object, style: str = "base") -> Paragraph:
    return Paragraph(markup(text), styles()[style])


# --- Personal rights record and treatment voucher (R17) ---------------------


@dataclass(frozen=True)
class Contact:
    topic: str
    phone: str
    address: str = ""


@dataclass(frozen=True)
class RightsRecord:
    """Everything one student's page prints; built by the documents selector, never holds the full number."""

    student_name: str
    masked_identity_number: str
    school_name: str
    class_label: str
    city_name: str
    insurance_year_label: str
    channel: str
    fee_due: Decimal
    exemption_category: str
    payment_status: str
    paid_on: datetime.date | None
    receipt_number: str
    coverage_start: datetime.date
    coverage_end: datetime.date
    covered: bool
    office_name: str
    office_address: str
    office_liaison: str
    office_phone: str
    hotlines: tuple[Contact, ...] = field(default_factory=tuple)
    # The notice's own words for the period (the year's coverage description), after the dates.
    coverage_description: str = ""


def _date(day: datetime.date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def coverage_text(record: RightsRecord) -> str:
    dates = _("%(start)s至%(end)s") % {"start": _date(record.coverage_start), "end": _date(record.coverage_end)}
    if record.coverage_description:
        return _("%(dates)s（%(description)s）") % {"dates": dates, "description": record.coverage_description}
    return dates


def _grid(rows: list[tuple[str, str]], widths: tuple[float, float, float, float]) -> Table:
    """Label/value pairs laid out two per row."""
    cells = []
    for i in range(0, len(rows), 2):
        pair = rows[i : i + 2]
        line = []
        for label, value in pair:
            line += [p(label, "cell_label"), p(value, "cell")]
        if len(pair) == 1:
            line += ["", ""]
        cells.append(line)
    table = Table(cells, colWidths=widths)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#777777")),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f0f0f0")),
                ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#f0f0f0")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _record_flowables(record: RightsRecord, width: float) -> list:
    payment = record.payment_status
    if record.paid_on:
        payment += _("（%(date)s）") % {"date": _date(record.paid_on)}
    rows = [
        (_("姓名"), record.student_name),
        (_("身份证号码"), record.masked_identity_number),
        (_("学校"), record.school_name),
        (_("班级"), record.class_label),
        (_("参保年度"), record.insurance_year_label),
        (_("参保途径"), record.channel),
        (_("应缴金额"), _("%(amount)s元") % {"amount": f"{record.fee_due:.2f}"}),
        (_("免缴类别"), record.exemption_category or _("无")),
        (_("缴费状态"), payment),
        (_("电子票据号"), record.receipt_number or _("无")),
        (_("待遇享受期间"), coverage_text(record) if record.covered else _("缴费到账后享受%(period)s") % {"period": coverage_text(record)}),
        (_("参保地"), record.city_name),
    ]
    label_w, value_w = width * 0.16, width * 0.34
    story = [
        p(_("城乡居民基本医疗保险个人权益记录单"), "title"),
        p(_("%(city)s %(year)s参保年度") % {"city": record.city_name, "year": record.insurance_year_label}, "subtitle"),
        _grid(rows, (label_w, value_w, label_w, value_w)),
        Spacer(1, 5 * mm),
        p(_("经办机构：%(name)s；地址：%(address)s；联络员：%(liaison)s；电话：%(phone)s")
          % {"name": record.office_name, "address": record.office_address, "liaison": record.office_liaison or "-",
             "phone": record.office_phone or "-"}, "small"),
    ]
    if record.hotlines:
        story.append(Spacer(1, 2 * mm))
        story.append(p(_("咨询电话"), "cell_label"))
        hot = Table(
            [[p(h.topic, "small"), p(h.phone, "small"), p(h.address, "small")] for h in record.hotlines],
            colWidths=(width * 0.3, width * 0.25, width * 0.45),
        )
        hot.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb"))]))
        story.append(hot)
    story.append(Spacer(1, 3 * mm))
    story.append(p(_("本记录单由学校协管员发放，请妥善保管；如信息有误，请在申报缴费期内联系学校协管员更正。"), "small"))
    story.append(Spacer(1, 6 * mm))
    story.append(p(_("- - - - - - - - - - - - - - - - 沿此线剪开 - - - - - - - - - - - - - - - -"), "subtitle"))
    if record.covered:
        story.extend(_voucher_flowables(record, width))
    else:
        story.append(p(_("该学生尚未完成缴费，暂不发放就医凭证；缴费到账后可重新打印。"), "placeholder"))
    return story


def _voucher_flowables(record: RightsRecord, width: float) -> list:
    rows = [
        (_("姓名"), record.student_name),
        (_("身份证号码"), record.masked_identity_number),
        (_("学校"), record.school_name),
        (_("班级"), record.class_label),
        (_("参保年度"), record.insurance_year_label),
        (_("待遇享受期间"), coverage_text(record)),
    ]
    label_w, value_w = width * 0.16, width * 0.34
    first = record.hotlines[0] if record.hotlines else None
    story = [
        p(_("城乡居民基本医疗保险就医凭证"), "title"),
        _grid(rows, (label_w, value_w, label_w, value_w)),
        Spacer(1, 3 * mm),
        p(_("就医时请出示本凭证及本人社会保障卡（市民卡）或身份证件；待遇享受期间以外就医不予报销。"), "small"),
    ]
    if first:
        story.append(p(_("%(topic)s：%(phone)s") % {"topic": first.topic, "phone": first.phone}, "small"))
    return story


class _ProgressDoc(SimpleDocTemplate):
    def __init__(self, *args, on_page: Callable[[int], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_page = on_page

    def afterPage(self):
        if self._on_page is not None:
            self._on_page(self.page)


class _LazyStory(list):
    """Flowables produced record by record as platypus consumes them (it pops from the front while
    ``len()`` is non-zero), so a school of thousands of students is never held in memory at once."""

    def __init__(self, chunks: Iterator[list]):
        super().__init__()
        self._chunks = chunks

    def __len__(self):
        if not super().__len__():
            chunk = next(self._chunks, None)
            if chunk:
                self.extend(chunk)
        return super().__len__()


def render_rights_records(
    records: Iterable[RightsRecord], out, *, on_page: Callable[[int], None] | None = None, title: str = ""
) -> int:
    """Write one A4 page per record to ``out`` (a path or binary file); returns the number of pages."""
    fonts()
    doc = _ProgressDoc(
        out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=15 * mm, bottomMargin=12 * mm,
        title=title or _("个人权益记录单"), author="", on_page=on_page,
    )
    count = 0

    def chunks():
        nonlocal count
        for record in records:
            # Each student on exactly one page: a long hotline list shrinks instead of spilling over.
            page = KeepInFrame(doc.width, doc.height, _record_flowables(record, doc.width), mode="shrink")
            yield [PageBreak(), page] if count else [page]
            count += 1
        if not count:
            yield [p(_("没有符合条件的参保学生。"))]

    doc.build(_LazyStory(chunks()))
    return count


def rights_records_pdf(records: Iterable[RightsRecord]) -> bytes:
    buffer = io.BytesIO()
    render_rights_records(records, buffer)
    return buffer.getvalue()


# --- Operation manual (R18) --------------------------------------------------


def render_manual_pdf(pages: Iterable, out, *, image_path: Callable[[str], Path | None]) -> None:
    """The manual as PDF from the same Markdown the portal shows: headings, paragraphs, lists, images.

    ``pages`` yields markdown-it token lists; ``image_path`` maps an image source to a file, or None when the
    screenshot has not been generated yet (a placeholder line is printed instead).
    """
    fonts()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm, bottomMargin=18 * mm,
        title=_("学校协管员操作手册"), author="",
    )
    story: list = []
    for index, tokens in enumerate(pages):
        if index:
            story.append(PageBreak())
        story.extend(_markdown_flowables(tokens, doc.width, image_path))
    doc.build(story)


def _inline_markup(token, image_path, width, images: list) -> str:
    """Markup of an inline token; images are collected to be placed after the paragraph."""
    out = []
    for child in token.children or []:
        kind = child.type
        if kind == "text":
            out.append(markup(child.content))
        elif kind == "code_inline":
            out.append(markup(child.content))
        elif kind in ("softbreak", "hardbreak"):
            out.append("<br/>")
        elif kind == "strong_open":
            out.append("<b>")
        elif kind == "strong_close":
            out.append("</b>")
        elif kind == "image":
            images.append((child.attrGet("src") or "", child.content or ""))
    return "".join(out)


def _image_flowable(src: str, alt: str, width: float, image_path):
    path = image_path(src)
    if path is None:
        return p(_("（截图“%(alt)s”尚未生成）") % {"alt": alt or src}, "placeholder")
    image = Image(str(path))
    scale = min(1.0, width / image.imageWidth, (120 * mm) / image.imageHeight)
    image.drawWidth = image.imageWidth * scale
    image.drawHeight = image.imageHeight * scale
    return image


def _markdown_flowables(tokens, width: float, image_path) -> list:
    story: list = []
    heading = None
    list_stack: list[dict] = []
    for token in tokens:
        if token.type == "heading_open":
            heading = {"h1": "h1", "h2": "h2"}.get(token.tag, "h3")
        elif token.type == "heading_close":
            heading = None
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            list_stack.append({"ordered": token.type == "ordered_list_open", "n": 0})
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_stack.pop()
        elif token.type == "list_item_open" and list_stack:
            list_stack[-1]["n"] += 1
        elif token.type == "inline":
            images: list = []
            text = _inline_markup(token, image_path, width, images)
            if text.strip():
                if heading:
                    story.append(Paragraph(text, styles()[heading]))
                elif list_stack:
                    current = list_stack[-1]
                    bullet = f"{current['n']}." if current["ordered"] else "•"
                    style = ParagraphStyle("li", parent=styles()["list"], leftIndent=14 * len(list_stack))
                    story.append(Paragraph(text, style, bulletText=bullet))
                else:
                    story.append(Paragraph(text, styles()["base"]))
                    story.append(Spacer(1, 2 * mm))
            for src, alt in images:
                story.append(_image_flowable(src, alt, width, image_path))
                story.append(Spacer(1, 3 * mm))
    return story
