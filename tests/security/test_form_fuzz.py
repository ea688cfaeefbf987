"""Property test: whatever a browser posts to the portal's forms and the admin's own views, the answer is never a 500.

The fields of each form are read from the page itself, so a new field is
fuzzed without editing this test; values mix random text with the inputs that
usually break parsers (impossible dates, huge numbers, formula and markup text,
NUL characters), and unknown extra fields are thrown in.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollment.models import CitizenCard
from tests.factories import StudentFactory

BACKEND = "enrollment.auth.MembershipBackend"
NASTY = [
    "", " ", "0", "-1", "1", "99999999999999999999999", "1e309", "NaN", "2026-13-45", "2027-02-29", "2027-01-01",
    "0000-00-00", "on", "true", "=HYPERLINK(\"http://x\")", "<script>alert(1)</script>", "440104201003150011",
    "44010420100315001X", "\x00", "张三·阿不都", "a" * 300, "../../etc/passwd", "%s%s%n",
]
VALUE = st.one_of(st.sampled_from(NASTY), st.text(max_size=30), st.integers(-(10**15), 10**15).map(str))
EXAMPLES = 15

# (where the form posts, the page that shows the form when that is another one)
PORTAL = [
    ("/students/add/", None), ("/students/{student}/", None), ("/students/{student}/status/", "/students/{student}/"),
    ("/roster/confirm/", "/roster/"), ("/profile/", None), ("/cards/{card}/picked-up/", "/cards/"),
    ("/cards/students/{student}/photo/", "/cards/"), ("/documents/generate/", "/documents/"),
    ("/documents/handouts/", "/documents/"), ("/notices/read-all/", "/notices/"), ("/import/", None),
]
ADMIN = [
    ("/admin/enrollment/exemption/import/", None), ("/admin/enrollment/exemption/letter/", None),
    ("/admin/coordinators/coordinator/import-students/", None), ("/admin/coordinators/handout/pending/", None),
    ("/admin/graduates/graduatefeed/upload/", None), ("/admin/graduates/graduatefeed/run/", "/admin/graduates/graduatefeed/"),
    ("/admin/billing/debitbatch/generate/", None), ("/admin/billing/declaration/generate/", None),
    ("/admin/billing/declaration/import-receipts/", None), ("/bureau/reports/year-end/", "/bureau/"),
    ("/bureau/cards/export/", "/bureau/"),
]


def _field_names(client, url) -> list[str]:
    response = client.get(url)
    if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
        return []
    names = set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', response.content.decode()))
    return sorted(names - {"csrfmiddlewaretoken"})


def _fuzz(client, url, page=None):
    names = _field_names(client, page or url) or ["name"]
    keys = st.one_of(st.sampled_from(names), st.text(min_size=1, max_size=8))
    form = st.dictionaries(keys, st.one_of(VALUE, st.lists(VALUE, max_size=3)), max_size=len(names) + 2)
    full = st.fixed_dictionaries({name: VALUE for name in names})

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(data=st.one_of(full, form))
    def post(data):
        response = client.post(url, data)
        assert response.status_code < 500, (url, data)

    post()


@pytest.fixture
def objects(world):
    student = StudentFactory(school=world.school)
    card = CitizenCard.objects.create(student=student)
    return {"student": student.pk, "card": card.pk}


@pytest.mark.parametrize("url, page", PORTAL)
def test_the_portal_forms_never_answer_500(world, objects, url, page):
    client = Client()
    world.coordinator.refresh_from_db()
    client.force_login(world.coordinator, backend=BACKEND)
    _fuzz(client, url.format(**objects), page and page.format(**objects))


@pytest.mark.parametrize("url, page", ADMIN)
def test_the_admins_own_views_never_answer_500(world, objects, url, page):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x-very-secret-1")
    client = Client()
    client.force_login(root, backend=BACKEND)
    _fuzz(client, url, page)


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_the_log_in_forms_never_answer_500(db, url):
    _fuzz(Client(), url)
