"""The coordinators' operation manual (R18): Markdown chapters in ``docs/manual``, shown in the portal and as PDF.

One parser (markdown-it, CommonMark, raw HTML disabled) feeds both the HTML pages and the PDF, so what is
printed is what the portal shows. Screenshots are produced by the browser tests into
``docs/manual/screenshots``; a missing one is replaced by a placeholder line rather than a broken image.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _
from markdown_it import MarkdownIt

MANUAL_DIR = Path(settings.BASE_DIR) / "docs" / "manual"
SCREENSHOT_DIR = MANUAL_DIR / "screenshots"
CHAPTER_FILE = re.compile(r"^(?P<order>\d{2})-(?P<slug>[a-z0-9-]+)\.md$")
SCREENSHOT_NAME = re.compile(r"^[a-z0-9-]+\.png$")


@dataclass(frozen=True)
class Chapter:
    slug: str
    title: str
    path: Path


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False})


def chapters() -> list[Chapter]:
    result = []
    for path in sorted(MANUAL_DIR.glob("*.md")):
        match = CHAPTER_FILE.match(path.name)
        if not match:
            continue
        first = next((line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("# ")), "")
        result.append(Chapter(slug=match["slug"], title=first[2:].strip() or match["slug"], path=path))
    return result


def chapter(slug: str) -> Chapter | None:
    return next((c for c in chapters() if c.slug == slug), None)


def screenshot_path(src: str) -> Path | None:
    """The file behind an image source ``screenshots/<name>.png``, or None when not generated (or not ours)."""
    name = src.removeprefix("screenshots/")
    if src == name or not SCREENSHOT_NAME.match(name):
        return None
    path = SCREENSHOT_DIR / name
    return path if path.is_file() else None


def tokens(chapter: Chapter):
    return _parser().parse(chapter.path.read_text(encoding="utf-8"))


def render_html(chapter: Chapter) -> str:
    md = _parser()

    def image(self, tokens, idx, options, env):
        token = tokens[idx]
        src = token.attrGet("src") or ""
        alt = self.renderInlineAsText(token.children or [], options, env)
        if screenshot_path(src) is None:
            return f'<span class="manual-placeholder">{escape(_("（截图“%(alt)s”尚未生成）") % {"alt": alt or src})}</span>'
        url = reverse("portal:manual_screenshot", args=[src.removeprefix("screenshots/")])
        return f'<img class="manual-screenshot" src="{escape(url)}" alt="{escape(alt)}">'

    md.add_render_rule("image", image)
    return md.render(chapter.path.read_text(encoding="utf-8"))


def render_pdf(out) -> None:
    from coordinators.documents import render_manual_pdf

    render_manual_pdf((tokens(c) for c in chapters()), out, image_path=screenshot_path)
