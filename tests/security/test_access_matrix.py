"""Access matrix (ASVS V4): every URL of the portal, the API and the admin, walked as every persona.

A URL added without an entry in ``tests/security/matrix.py`` fails
``test_every_url_has_an_entry_in_the_matrix``. One test per persona walks
all URLs and lists every mismatch in one message; known holes are separate
expected failures, so a fix turns them into an unexpected pass.
"""

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from coordinators import manual
from enrollment.models import Membership, SchoolAccount
from tests.security import access_walk as walk
from tests.security import matrix as m
from tests.security import world_a
from tests.security.personas import (
    ANONYMOUS,
    CITY_STAFF,
    COORDINATOR,
    DISTRICT_STAFF,
    OTHER_CITY_DISTRICT_STAFF,
    OTHER_CITY_STAFF,
    OTHER_DISTRICT_STAFF,
    OTHER_SCHOOL_COORDINATOR,
    SYSTEM_GRADUATE_FEEDS,
    personas,
)

PERSONA_NAMES = {
    m.A: ANONYMOUS, m.C: COORDINATOR, m.CB: OTHER_SCHOOL_COORDINATOR, m.D: DISTRICT_STAFF,
    m.DB: OTHER_DISTRICT_STAFF, m.Y: CITY_STAFF, m.Z: OTHER_CITY_STAFF, m.ZD: OTHER_CITY_DISTRICT_STAFF,
    m.S: SYSTEM_GRADUATE_FEEDS,
}
# Personas outside school A: a page they may open must not show school A's students.
OUTSIDERS = {m.CB, m.DB, m.Z, m.ZD, m.S}


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path, monkeypatch):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    # The anonymous persona alone calls the API more often than the anonymous rate allows.
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "100000/min", "anon": "100000/min"})
    # Typesetting the whole manual takes seconds and decides nothing about access (login_required does).
    monkeypatch.setattr(manual, "render_pdf", lambda buffer: buffer.write(b"%PDF-1.4\n"))


# --- URLs for school A's objects ------------------------------------------------


def _admin_objects(world, a) -> dict:
    """One object per admin-registered model, school A's where the model belongs to a school."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.utils import timezone
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )
    from knox.models import AuthToken

    interval = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.DAYS)
    attempt = {"user_agent": "test", "http_accept": "*/*", "path_info": "/login/"}
    return {
        "auth.group": Group.objects.order_by("pk").first(),
        "auth.user": world.coordinator,
        "knox.authtoken": AuthToken.objects.create(user=world.coordinator)[0],
        "django_celery_beat.periodictask": PeriodicTask.objects.create(name="matrix", task="x", interval=interval),
        "django_celery_beat.clockedschedule": ClockedSchedule.objects.create(clocked_time=timezone.now()),
        "django_celery_beat.crontabschedule": CrontabSchedule.objects.create(),
        "django_celery_beat.solarschedule": SolarSchedule.objects.create(event="sunrise", latitude=0, longitude=0),
        "django_celery_beat.intervalschedule": interval,
        "axes.accessattempt": AccessAttempt.objects.create(**attempt, get_data="", post_data="", failures_since_start=1),
        "axes.accesslog": AccessLog.objects.create(**attempt),
        "axes.accessfailurelog": AccessFailureLog.objects.create(**attempt),
        "enrollment.city": world.city,
        "enrollment.office": world.office,
        "enrollment.bank": a.bank,
        "enrollment.exemptioncategory": a.category,
        "enrollment.insuranceyear": a.year,
        "enrollment.school": a.school,
        "enrollment.schoolaccount": SchoolAccount.objects.get(school=a.school),
        "enrollment.membership": Membership.objects.get(user=world.coordinator),
        "enrollment.student": a.student,
        "enrollment.citizencard": a.card,
        "enrollment.job": a.import_job,
        "enrollment.exemption": a.exemption,
        "enrollment.enrollment": a.enrollment,
        "enrollment.roster": a.roster,
        "enrollment.rosterconfirmation": a.confirmation,
        "enrollment.chargecorrection": a.correction,
        "enrollment.auditevent": a.audit,
        "enrollment.personaldataaccess": a.access,
        "coordinators.notice": a.notice,
        "coordinators.handout": a.handout,
        "coordinators.coordinator": a.registry_entry,
        "billing.debitbatch": a.batch,
        "billing.debitinstruction": a.instruction,
        "billing.unbillableconfirmation": a.confirmation,
        "billing.refund": a.refund,
        "billing.refundexport": a.refund_export,
        "billing.declaration": a.declaration,
        "billing.receiptimport": a.receipt_import,
        "billing.billingfiledownload": a.download,
        "graduates.graduatefeed": a.feed,
        "graduates.graduaterecord": a.graduate,
        "graduates.deregistrationrun": a.run,
        "enrollment.transfer": a.transfer,
        "enrollment.otherinsurance": a.other_insurance,
        "enrollment.otherchannelenrollment": a.follow_up,
    }


def _targets(world, a) -> dict:
    chapters = manual.chapters()
    shots = sorted(manual.SCREENSHOT_DIR.glob("*.png")) if manual.SCREENSHOT_DIR.is_dir() else []
    student_type = ContentType.objects.get_for_model(a.student)
    return {
        None: [],
        "student": [a.student.pk],
        "user": [world.coordinator.pk],
        "student_card": [a.second.pk],
        "export_register": ["register"],
        "import_job": [a.import_job.pk],
        "documents_job": [a.documents_job.pk],
        "report_job": [a.report_job.pk],
        "enrollment": [a.enrollment.pk],
        "card": [a.card.pk],
        "notice": [a.notice.pk],
        "school": [a.school.pk],
        "school_code": [a.school.code],
        "identity_number": [a.identity_number],
        "year": [a.year.pk],
        "roster": [a.roster.pk],
        "exemption": [a.exemption.pk],
        "registry_entry": [a.registry_entry.pk],
        "declaration": [a.declaration.pk],
        "batch": [a.batch.pk],
        "instruction": [a.instruction.pk],
        "refund_export": [a.refund_export.pk],
        "transfer": [a.transfer.pk],
        "manual_chapter": [chapters[0].slug if chapters else "introduction"],
        "manual_screenshot": [shots[0].name if shots else "missing.png"],
        "view_on_site_student": [student_type.pk, a.student.pk],
        "app_enrollment": None,  # built by hand below
    }


def _url(rule, key: str, route: str, targets: dict, world, a) -> str:
    if rule.target == "app_enrollment":
        return reverse("admin:app_list", kwargs={"app_label": "enrollment"})
    if rule.target == "admin_catch_all":
        return "/admin/no-such-page/"
    if rule.target == "legacy_change":
        # admin/<app>/<model>/<path:object_id>/ -> this model's change page
        prefix = route.split("<", 1)[0]
        return f"/{prefix}1/"
    return reverse(key, args=targets[rule.target])


def cases(world, a):
    """(url key, url, method, expect, fresh_client, holes) for every URL the matrix covers."""
    targets = _targets(world, a)
    objects = _admin_objects(world, a)
    generated = {f"admin:{prefix}_{kind}": (model, kind) for prefix, model in walk.admin_models() for kind in m.ADMIN_KINDS}
    out = []
    for pattern in walk.patterns():
        if pattern.key in m.EXCLUDED:
            continue
        if pattern.key in generated:
            model, kind = generated[pattern.key]
            label = model._meta.label_lower
            obj = objects[label]
            url = reverse(pattern.key, args=[] if kind in ("changelist", "add") else [obj.pk])
            holes = {p: r for (lbl, k, p), r in m.ADMIN_HOLES.items() if lbl == label and k == kind}
            out.append((pattern.key, url, "GET", m.admin_expect(label, kind), False, holes))
            continue
        # Missing rules are reported by the completeness test; a URL may have one rule per method.
        for rule in walk.matches(m.RULES, pattern.key):
            url = _url(rule, pattern.key, pattern.route, targets, world, a)
            out.append((pattern.key, url, rule.method, rule.expect, rule.fresh_client, rule.holes))
    return out


def _client(persona, fresh: bool) -> Client:
    if not fresh:
        return persona.client
    copy = Client(**persona.client.defaults)
    copy.cookies = persona.client.cookies.__class__(persona.client.cookies)
    return copy


LOGIN_URLS = ("/login/", "/admin/login/")


def check(persona, code, key, url, method, expected, fresh, a) -> str | None:
    response, body = walk.call(_client(persona, fresh), method, url)
    got = walk.classify(response, login_urls=LOGIN_URLS, admin_index="/admin/")
    if got not in m.OUTCOMES[expected]:
        return f"{method} {url} [{key}]: expected {expected}, got {got} ({response.status_code} {response.get('Location', '')})"
    if got == "ok" and code in OUTSIDERS and response.status_code == 200:
        text = body.decode("utf-8", "replace")
        for marker in (world_a.MARKER_NAME, a.identity_number, a.identity_number[-4:] and a.identity_number[:6] + "********" + a.identity_number[-4:]):
            if marker and marker in text:
                return f"{method} {url} [{key}]: shows school A's data ({marker!r}) to an outsider"
    return None


@pytest.mark.parametrize("code", m.PERSONAS)
def test_persona_gets_the_matrix_answer_on_every_url(world, code):
    a = world_a.build(world)
    people = personas(world)
    persona = people[PERSONA_NAMES[code]]
    failures, count = [], 0
    for key, url, method, expect, fresh, holes in cases(world, a):
        if code in holes:
            continue
        count += 1
        failure = check(persona, code, key, url, method, expect[code], fresh, a)
        if failure:
            failures.append(failure)
    assert count > 100
    assert not failures, f"{code}: {len(failures)} of {count} URLs answer against the matrix:\n" + "\n".join(failures)


def _hole_params():
    params = []
    for rule in m.RULES:
        for code, reason in rule.holes.items():
            params.append(pytest.param(rule.name, code, id=f"{rule.name}-{code}",
                                       marks=pytest.mark.xfail(strict=True, reason=reason)))
    for (label, kind, code), reason in m.ADMIN_HOLES.items():
        prefix = label.replace(".", "_")
        params.append(pytest.param(f"admin:{prefix}_{kind}", code, id=f"{prefix}_{kind}-{code}",
                                   marks=pytest.mark.xfail(strict=True, reason=reason)))
    return params


@pytest.mark.parametrize(("key", "code"), _hole_params())
def test_known_access_hole_is_closed(world, key, code):
    a = world_a.build(world)
    persona = personas(world)[PERSONA_NAMES[code]]
    found = [c for c in cases(world, a) if c[0] == key]
    assert found
    failures = [check(persona, code, k, url, method, expect[code], fresh, a) for k, url, method, expect, fresh, _h in found]
    assert not [f for f in failures if f], failures


def test_every_url_has_an_entry_in_the_matrix():
    generated = {f"admin:{prefix}_{kind}" for prefix, _model in walk.admin_models()
                 for kind in (*m.ADMIN_KINDS, *m.ADMIN_NOT_WALKED)}
    missing = [
        f"{p.key}  ({p.route})" for p in walk.patterns()
        if p.key not in m.EXCLUDED and p.key not in generated and walk.match(m.RULES, p.key) is None
    ]
    unknown_models = [label for _p, model in walk.admin_models()
                      if (label := model._meta.label_lower) not in m.ADMIN_RIGHTS and not label.startswith(SUPERUSER_APPS)]
    assert not missing, "URLs without an entry in tests/security/matrix.py:\n" + "\n".join(missing)
    assert not unknown_models, "admin models without rights in matrix.ADMIN_RIGHTS: " + ", ".join(unknown_models)


SUPERUSER_APPS = ("auth.", "knox.", "django_celery_beat.", "axes.")


def test_matrix_has_no_entry_for_a_url_that_is_gone():
    keys = {p.key for p in walk.patterns()}
    stale = [r.name for r in m.RULES if not any(ch in r.name for ch in "*?[") and r.name not in keys]
    stale += [name for name in m.EXCLUDED if name not in keys]
    assert not stale, "matrix entries for URLs that no longer exist: " + ", ".join(stale)

