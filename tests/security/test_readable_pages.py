"""Admin pages read as people read them: no Python object repr, no float durations."""

import re

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from tests.security import access_walk as walk
from tests.security import world_a

REPR = re.compile(r"\b\w+ object \(\d+\)")
FLOAT = re.compile(r">\s*\d+\.\d{5,}\s*<")


@pytest.fixture
def superuser_client(world, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    world_a.build(world)
    world.city_staff.is_superuser = True
    world.city_staff.save()
    client = Client()
    client.force_login(world.city_staff, backend="enrollment.auth.MembershipBackend")
    return client


def test_no_admin_list_or_change_page_shows_an_object_repr_or_a_raw_float(superuser_client):
    found = []
    for prefix, model in walk.admin_models():
        urls = [reverse(f"admin:{prefix}_changelist")]
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            try:
                urls.append(reverse(f"admin:{prefix}_change", args=[first.pk]))
            except NoReverseMatch:
                pass
        for url in urls:
            response = superuser_client.get(url)
            if response.status_code != 200:
                continue
            html = response.content.decode()
            found += [f"{url}: {m}" for m in REPR.findall(html)] + [f"{url}: {m}" for m in FLOAT.findall(html)]
    assert not found, "\n".join(found)


# --- Every page with the demo data ------------------------------------------------------------------------------

JSON_DIFF = re.compile(r"""[\{\[]\s*"[a-z_]+"\s*:""")
HIDDEN = re.compile(r"<(script|style|template)\b.*?</\1>|<[^>]+>", re.S)
WORD = re.compile(r"(?<![\w./@-])([a-z]+(?:_[a-z]+)+|[a-z]{4,})(?![\w./@-])")
PROJECT_APPS = {"enrollment", "coordinators", "billing", "graduates", "bureau"}


def _field_names() -> set[str]:
    from django.apps import apps

    return {
        f.name for m in apps.get_models() if m._meta.app_label in PROJECT_APPS for f in m._meta.get_fields()
        if not f.auto_created
    }


def _visible_text(html: str) -> str:
    import html as html_lib

    body = html.split("<body", 1)[-1]
    # The admin's app list (Django's and third-party apps' own names) is not this project's text.
    body = re.sub(r'<nav class="sticky" id="nav-sidebar".*?</nav>', " ", body, flags=re.S)
    return html_lib.unescape(HIDDEN.sub(" ", body))


def _unreadable(url: str, html: str, field_names: set[str]) -> list[str]:
    text = _visible_text(html)
    found = [f"{url}: repr {m}" for m in REPR.findall(text)]
    found += [f"{url}: float {m.strip('<> ')}" for m in FLOAT.findall(html)]
    found += [f"{url}: JSON {m.group(0)}" for m in JSON_DIFF.finditer(text)]
    parts = url.split("/")
    if parts[1] == "admin" and parts[2] not in PROJECT_APPS:
        return found  # Django's and third-party apps' admin pages (groups, permissions, schedules) are theirs
    found += [
        f"{url}: field name {m.group(1)} in “{' '.join(text[max(0, m.start() - 30):m.end() + 30].split())}”"
        for m in WORD.finditer(text) if m.group(1) in field_names
    ]
    return found


def _demo_urls(situations) -> tuple[list[str], list[str], list[str]]:
    """(admin, bureau, portal) pages to walk: every list, a change page of each list's first row, each portal page."""
    from enrollment.models import Job, School, Student

    admin_urls = []
    for prefix, model in walk.admin_models():
        admin_urls.append(reverse(f"admin:{prefix}_changelist"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            try:
                admin_urls.append(reverse(f"admin:{prefix}_change", args=[first.pk]))
            except NoReverseMatch:
                pass
    bureau_urls = [reverse("bureau:dashboard"), reverse("bureau:report_start")]
    bureau_urls += [reverse("bureau:school", args=[s.pk]) for s in School.objects.filter(code__startswith="DEMO-GZ")]
    bureau_urls += [reverse("bureau:job", args=[j.pk]) for j in Job.objects.order_by("pk")[:5]]
    student = Student.objects.filter(school__code="DEMO-GZ-YX-001").order_by("pk").first()
    portal_urls = [reverse(name) for name in (
        "portal:home", "portal:students", "portal:student_add", "portal:import", "portal:roster", "portal:profile",
        "portal:contacts", "portal:cards", "portal:documents", "portal:notices", "portal:manual",
        "graduates:my-exceptions", "billing:receipts", "portal:coverage")]
    portal_urls += [reverse("portal:student_edit", args=[student.pk]), reverse("portal:roster") + "?list=suspected",
                    reverse("portal:notice_detail", args=[situations["notice"]])]
    return admin_urls, bureau_urls, portal_urls


@pytest.mark.django_db
def test_no_admin_bureau_or_portal_page_with_the_demo_data_shows_a_repr_json_field_name_or_raw_float(situations):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    admin_urls, bureau_urls, portal_urls = _demo_urls(situations)
    field_names = _field_names()
    found, walked = [], 0
    for username, urls in (("admin", admin_urls), ("staff-gz", bureau_urls), ("coord-gz1", portal_urls)):
        client = Client()
        client.force_login(users.get(username=username), backend="enrollment.auth.MembershipBackend")
        for url in urls:
            response = client.get(url)
            if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
                continue
            walked += 1
            found += _unreadable(url, response.content.decode(), field_names)
    assert walked > 80
    assert not found, "\n".join(sorted(set(found)))
