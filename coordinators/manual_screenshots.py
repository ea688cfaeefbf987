"""The operation manual's screenshots (R18), taken in headless Chromium from the demo data.

One list of steps, ``STEPS``, serves both the ``manual_screenshots`` command (run after ``seed_demo``) and the
browser test that checks it, so the images the manual cites are produced the same way everywhere. Adding a
screenshot to a chapter is one ``Step``: the file name the chapter cites (``![…](screenshots/<file>)``), the
demo account that sees the page (None: not logged in), and the page, as a URL name or a function of no
arguments that returns a path (it may read the database; it runs before the browser starts); ``act`` is what
the user does on the page before the shot (fill and send a form), with ``values`` read from the database first.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.urls import reverse

from coordinators import manual

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 860}
LOGIN_BACKEND = "enrollment.auth.MembershipBackend"


@dataclass(frozen=True)
class Step:
    filename: str
    username: str | None
    page: str | Callable[[], str]
    args: tuple = ()
    # Waited for before the shot (e.g. a part of the page drawn by a script).
    wait_for: str | None = None
    # What the user does on the page before the shot, ``act(page, values)``, with ``values()`` read from the
    # database beforehand (e.g. a form filled with a demo student's number).
    act: Callable | None = None
    values: Callable[[], dict] | None = None
    # The shot ends below this part of the page (a long list under it would only make the image tall).
    down_to: str | None = None

    def path(self) -> str:
        return self.page() if callable(self.page) else reverse(self.page, args=self.args)


def _demo_student_number() -> dict:
    from enrollment.models import Enrollment

    enrollment = (Enrollment.objects.filter(school__code="DEMO-GZ-YX-001").select_related("student")
                  .order_by("pk").first())
    return {"number": enrollment.student.identity_number if enrollment else ""}


def _leaving_page() -> str:
    """The leaving page of a student still at 越秀区示例第一中学, below the final grade (not a suspected graduate)."""
    from enrollment.models import School, Student, StudentStatus

    school = School.objects.get(code="DEMO-GZ-YX-001")
    student = (Student.objects.filter(school=school, status=StudentStatus.IN_SCHOOL, grade__lt=school.final_grade)
               .order_by("pk").first())
    return reverse("portal:student_leave", args=[student.pk])


def _insured_elsewhere_page() -> str:
    """The insured-elsewhere page of the demo's student of 苏州示例大学 already recorded there (seed_demo)."""
    from enrollment.models import OtherInsurance

    other = OtherInsurance.objects.filter(enrollment__school__code="DEMO-SZ-U01").select_related("enrollment").first()
    return reverse("portal:student_elsewhere", args=[other.enrollment.student_id])


def _look_up_coverage(page, values: dict) -> None:
    page.fill("#coverage-number", values["number"])
    page.click("#coverage-form button[type=submit]")
    page.wait_for_selector("#coverage-result")


STEPS: list[Step] = [
    Step("home.png", "coord-gz1", "portal:home"),
    Step("register.png", "coord-gz1", "portal:profile"),
    Step("import.png", "coord-gz1", "portal:import"),
    Step("roster.png", "coord-gz1", "portal:roster"),
    Step("documents.png", "coord-gz1", "portal:documents"),
    Step("coverage.png", "coord-gz1", "portal:coverage", act=_look_up_coverage, values=_demo_student_number),
    Step("transfers.png", "coord-gz1", "portal:transfers"),
    # The chapter on changes during the year (seed_demo's seed_year_changes): late students of a confirmed roster,
    # a student's leaving and insured-elsewhere pages, the district's follow-up of students sent elsewhere.
    Step("supplementary.png", "coord-sz2", "portal:roster", wait_for="#supplementary", down_to="#supplementary"),
    Step("leave.png", "coord-gz1", _leaving_page, wait_for="#leaving-rule"),
    Step("elsewhere.png", "coord-sz1", _insured_elsewhere_page, wait_for="#current-elsewhere"),
    Step("follow-ups.png", "staff-yuexiu", "bureau:follow_ups", wait_for="#follow-ups"),
]


def cited_screenshots() -> set[str]:
    """Every image file name the manual's chapters cite as ``screenshots/<name>``."""
    names = set()
    for chapter in manual.chapters():
        for token in manual.tokens(chapter):
            for child in token.children or []:
                src = child.attrGet("src") if child.type == "image" else None
                if src and src.startswith("screenshots/"):
                    names.add(src.removeprefix("screenshots/"))
    return names


def session_cookie(username: str, base_url: str) -> dict:
    """A logged-in session for a demo account, as a browser cookie (no password typed, none needed)."""
    user = get_user_model().objects.get(username=username)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = LOGIN_BACKEND
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": base_url}


Planned = tuple[Step, str, dict | None, dict]


def prepare(steps: list[Step], base_url: str) -> list[Planned]:
    """Every database read of the steps (paths, sessions, values), done before Playwright runs its event loop here."""
    cookies: dict[str, dict] = {}
    planned = []
    for step in steps:
        if step.username is not None and step.username not in cookies:
            cookies[step.username] = session_cookie(step.username, base_url)
        cookie = cookies.get(step.username) if step.username else None
        planned.append((step, step.path(), cookie, step.values() if step.values else {}))
    return planned


def take(browser, base_url: str, planned: list[Planned], out_dir: Path) -> list[Path]:
    """Open each planned page in its own browser context and save a full-page screenshot; the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for step, path, cookie, values in planned:
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        try:
            if cookie is not None:
                context.add_cookies([cookie])
            page = context.new_page()
            response = page.goto(base_url + path)
            if response is None or response.status != 200 or (cookie is not None and "/login/" in page.url):
                raise RuntimeError(f"{step.filename}: {path} answered {response and response.status} at {page.url}")
            if step.act is not None:
                step.act(page, values)
            if step.wait_for:
                page.wait_for_selector(step.wait_for)
            target = out_dir / step.filename
            clip = None
            if step.down_to:
                box = page.locator(step.down_to).first.bounding_box()
                clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": box["y"] + box["height"] + 24}
            page.screenshot(path=str(target), full_page=True, clip=clip)
            written.append(target)
        finally:
            context.close()
    return written


@contextmanager
def serve() -> Iterator[str]:
    """This site on a free local port in a thread, static files included; yields its base URL."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass

    from django.test.utils import override_settings

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    # The server listens on the loopback address only; a production configuration's host list
    # (DEBUG off) does not name it, and every page would answer 400.
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "127.0.0.1"]):
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()


def generate(base_url: str, out_dir: Path = manual.SCREENSHOT_DIR, steps: list[Step] | None = None) -> list[Path]:
    """Plan, launch Chromium and take every step's screenshot against the site at ``base_url``."""
    from playwright.sync_api import sync_playwright

    planned = prepare(STEPS if steps is None else steps, base_url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            return take(browser, base_url, planned, out_dir)
        finally:
            browser.close()
