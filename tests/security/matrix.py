"""The access matrix: for every URL of the portal, the API and the admin, what each persona must get.

School A (越秀, Yuexiu) owns every object the URLs point at. The personas:

- ``A``  anonymous
- ``C``  coordinator of school A
- ``CB`` coordinator of school B (海珠, Haizhu)
- ``D``  district staff of Yuexiu (school A's district)
- ``DB`` district staff of Haizhu
- ``Y``  city staff of Guangzhou
- ``Z``  city staff of Suzhou, the other city: on a page of one of school A's objects (or of Guangzhou's
         insurance year, exemption register, categories) Z is refused; on pages without an object Z gets
         what Y gets, for Suzhou's own data, and must not see school A's (checked like CB, DB and S)
- ``ZD`` district staff of Suzhou (its social-security centre): refused on school A's objects and Guangzhou's
         city-wide ones like Z; on pages without an object it gets what D gets, for its own district's data
- ``S``  system account with the ``graduate_feeds`` grant (token)

Outcomes (what the persona notices):

- ``ok``      2xx, a redirect inside the site, or 400/409/410 from the view's own rules (access granted)
- ``login``   redirect to the portal's or the admin's login page
- ``anon``    the API's refusal of an unauthenticated call (401 or 403)
- ``denied``  403
- ``hidden``  404, or the admin's "does not exist" redirect to its index
- ``refused`` any refusal (login, 401, 403, 404): the system token outside its one endpoint
- ``ok|denied`` and the like: either, where the rule says why

A ``hole`` is a persona's answer that breaks the rule above and is recorded as an
expected failure until the application is fixed: the rule keeps the expectation, the
hole names the file and view at fault.
"""

from dataclasses import dataclass, field

A, C, CB, D, DB, Y, Z, ZD, S = "A", "C", "CB", "D", "DB", "Y", "Z", "ZD", "S"
PERSONAS = (A, C, CB, D, DB, Y, Z, ZD, S)

OUTCOMES = {
    "ok": {"ok"},
    "login": {"login"},
    "anon": {"unauth", "denied"},
    "denied": {"denied"},
    "hidden": {"hidden"},
    "refused": {"login", "unauth", "denied", "hidden"},
    "ok|denied": {"ok", "denied"},
    "ok|hidden": {"ok", "hidden"},
    "hidden|denied": {"hidden", "denied"},
    "any": {"ok", "login", "hidden", "denied", "unauth"},
}


@dataclass(frozen=True)
class Rule:
    name: str  # URL name (namespace:name), a wildcard over names, or the route of an unnamed pattern
    target: str | None  # which of school A's objects fills the URL (see TARGETS in the test)
    expect: dict
    method: str = "GET"
    note: str = ""
    holes: dict = field(default_factory=dict)  # persona -> why the current answer is wrong (xfail, strict)
    fresh_client: bool = False  # the request ends the session (log-out): use a copy of the client


# Targets that are Guangzhou's (school A's objects, its city's year and register): the other city never reaches them.
CITY_A_TARGETS = {
    "student", "student_card", "import_job", "documents_job", "report_job", "enrollment", "card", "notice", "school",
    "school_code", "identity_number", "year", "roster", "exemption", "registry_entry", "declaration", "batch",
    "instruction", "refund_export", "transfer",
}


def other_city(target, expect: dict) -> str:
    """What the other city's staff get: refused on Guangzhou's objects, else what Guangzhou's city staff get."""
    if target in CITY_A_TARGETS and expect[Y] not in ("login", "anon"):
        return "hidden|denied"
    return expect[Y]


def other_city_district(target, expect: dict) -> str:
    """What the other city's district staff get: refused on Guangzhou's objects, else what district staff get."""
    if target in CITY_A_TARGETS and expect[D] not in ("login", "anon"):
        return "hidden|denied"
    return expect[D]


def rule(name, target, base, *, method="GET", note="", holes=None, fresh_client=False, **overrides):
    expect = {**base, **overrides}
    expect.setdefault(Z, other_city(target, expect))
    expect.setdefault(ZD, other_city_district(target, expect))
    return Rule(name, target, expect, method, note, holes or {}, fresh_client)


# --- Presets ---------------------------------------------------------------

# Portal page of the coordinator's own school, no object in the URL: other coordinators see their own school's.
PORTAL = {A: "login", C: "ok", CB: "ok", D: "hidden", DB: "hidden", Y: "hidden", S: "login"}
# Portal page of one of school A's objects: another school's coordinator gets 404.
PORTAL_OBJECT = {**PORTAL, CB: "hidden"}
# Open to anyone logged in (the operation manual).
LOGGED_IN = {A: "login", C: "ok", CB: "ok", D: "ok", DB: "ok", Y: "ok", S: "login"}
# Bureau pages: staff only, the rest 404 as in the portal.
BUREAU = {A: "login", C: "hidden", CB: "hidden", D: "ok", DB: "ok", Y: "ok", S: "login"}
BUREAU_OBJECT = {**BUREAU, DB: "hidden"}
# API lists: scoped by visible_to; other schools and districts get their own (checked not to contain school A).
API_LIST = {A: "anon", C: "ok", CB: "ok", D: "ok", DB: "ok", Y: "ok", S: "refused"}
API_OBJECT = {**API_LIST, CB: "hidden", DB: "hidden"}
API_STAFF_LIST = {**API_LIST, C: "denied", CB: "denied"}
API_STAFF_OBJECT = {**API_STAFF_LIST, DB: "hidden"}
# Admin pages (custom views) where the rights table does not apply: staff only.
ADMIN = {A: "login", C: "login", CB: "login", D: "ok", DB: "ok", Y: "ok", S: "login"}
ADMIN_OBJECT = {**ADMIN, DB: "hidden"}
ADMIN_CITY = {**ADMIN, D: "hidden|denied", DB: "hidden|denied"}  # refused with 403 or a redirect to the index
# Billing file downloads answer 404 to anyone without the file in scope, logged in or not.
FILES = {A: "hidden", C: "hidden", CB: "hidden", D: "hidden", DB: "hidden", Y: "hidden", S: "hidden"}
SAME = {p: "ok" for p in PERSONAS}


# --- Excluded plumbing -------------------------------------------------------

EXCLUDED = {
    "set_language": "i18n language switch: sets a cookie, shows no data (Django's own view)",
    "api-schema": "OpenAPI schema of the API: public description of the endpoints, no data",
    "api-docs": "Swagger UI page for the schema; its CSP is tested in test_api_docs_browser",
    "health": "health check for the load balancer: answers every caller, no data",
}


# --- Portal, bureau, billing and graduates pages ----------------------------

RULES = [
    rule("portal:login", None, SAME, note="the login form; logged-in users are sent on"),
    rule("portal:logout", None, {p: "any" for p in PERSONAS}, method="POST", fresh_client=True,
         note="ends the session, whoever asks"),
    rule("home", None, PORTAL, D="ok", DB="ok", Y="ok", Z="ok", note="staff are sent on to /bureau/"),
    rule("portal:home", None, PORTAL, D="ok", DB="ok", Y="ok", Z="ok", note="staff are sent on to /bureau/"),
    rule("portal:contacts", None, PORTAL),
    rule("portal:students", None, PORTAL),
    rule("portal:student_add", None, PORTAL, method="POST"),
    rule("portal:student_edit", "student", PORTAL_OBJECT),
    rule("portal:student_status", "student", PORTAL_OBJECT, method="POST"),
    rule("portal:export", "export_register", PORTAL),
    # Coverage lookup by full identity number: the coordinator's own school only (another school's number is
    # "not found" on the page, tested in tests/coordinators/test_coverage_lookup.py).
    rule("portal:coverage", None, PORTAL, method="POST", note="without a number: the form again (GET shows the same form)"),
    rule("portal:import", None, PORTAL),
    rule("portal:import_template", None, PORTAL),
    rule("portal:import_job", "import_job", PORTAL_OBJECT),
    rule("portal:import_job_status", "import_job", PORTAL_OBJECT),
    rule("portal:import_report", "import_job", PORTAL_OBJECT),
    rule("portal:roster", None, PORTAL),
    rule("portal:roster_confirm", None, PORTAL, method="POST"),
    rule("portal:roster_confirm_supplementary", None, PORTAL, method="POST"),
    rule("portal:roster_remove", "enrollment", PORTAL_OBJECT),
    rule("portal:roster_remove", "enrollment", PORTAL_OBJECT, method="POST"),
    rule("portal:roster_restore", "enrollment", PORTAL_OBJECT, method="POST"),
    rule("portal:profile", None, PORTAL),
    rule("portal:transfers", None, PORTAL),
    rule("portal:transfers", None, PORTAL, method="POST"),
    # Only the old school (A) answers a transfer; the asking school (B) and everyone else find nothing.
    rule("portal:transfer_accept", "transfer", PORTAL_OBJECT, method="POST"),
    rule("portal:transfer_refuse", "transfer", PORTAL_OBJECT, method="POST"),
    rule("portal:student_leave", "student", PORTAL_OBJECT),
    rule("portal:student_leave", "student", PORTAL_OBJECT, method="POST"),
    rule("portal:student_elsewhere", "student", PORTAL_OBJECT),
    rule("portal:student_elsewhere", "student", PORTAL_OBJECT, method="POST"),
    rule("portal:cards", None, PORTAL),
    rule("portal:card_photo_upload", "student_card", PORTAL_OBJECT, method="POST"),
    rule("portal:card_photos_zip", None, PORTAL, method="POST"),
    rule("portal:card_picked_up", "card", PORTAL_OBJECT, method="POST"),
    # The photo is for the school's coordinators and the bureau staff over that school.
    rule("portal:card_photo", "card", {**BUREAU_OBJECT, C: "ok"}),
    rule("portal:documents", None, PORTAL),
    rule("portal:documents_generate", None, PORTAL, method="POST"),
    rule("portal:documents_job", "documents_job", PORTAL_OBJECT),
    rule("portal:documents_job_status", "documents_job", PORTAL_OBJECT),
    rule("portal:documents_download", "documents_job", PORTAL_OBJECT),
    rule("portal:handout_record", None, PORTAL, method="POST"),
    rule("portal:manual", None, LOGGED_IN),
    rule("portal:manual_pdf", None, LOGGED_IN),
    rule("portal:manual_chapter", "manual_chapter", LOGGED_IN),
    rule("portal:manual_screenshot", "manual_screenshot",
         {**LOGGED_IN, **{p: "ok|hidden" for p in (C, CB, D, DB, Y)}},
         note="screenshots are generated by the browser tests: absent, the logged-in answer is 404"),
    rule("portal:notices", None, PORTAL),
    rule("portal:notices_read_all", None, PORTAL, method="POST"),
    rule("portal:notice_detail", "notice", PORTAL_OBJECT),
    rule("portal:notice_read", "notice", PORTAL_OBJECT, method="POST"),
    rule("bureau:dashboard", None, BUREAU),
    rule("bureau:school", "school", BUREAU_OBJECT),
    # Scoped inside the view: a number outside the district or city is "not found" (tests/bureau/test_coverage_lookup.py).
    rule("bureau:coverage", None, BUREAU, method="POST", note="without a number: the form again (GET shows the same form)"),
    rule("bureau:reminders_send", None, BUREAU, method="POST",
         note="without a year or schools: back to the dashboard; schools outside the scope are never reminded"),
    rule("bureau:report_start", None, BUREAU, method="POST"),
    rule("bureau:cards_export", None, BUREAU, method="POST"),
    rule("bureau:transfers", None, BUREAU),
    rule("bureau:transfer_decide", "transfer", BUREAU_OBJECT, method="POST"),
    rule("bureau:follow_ups", None, BUREAU),
    rule("bureau:follow_up_record", "enrollment", BUREAU_OBJECT, method="POST"),
    # Report jobs belong to the staff member who started them (district staff of Yuexiu here).
    rule("bureau:job", "report_job", {**BUREAU_OBJECT, Y: "hidden"}),
    rule("bureau:job_download", "report_job", {**BUREAU_OBJECT, Y: "hidden"}),
    # Bank files cover the whole city: city staff only.
    rule("billing:batch-file", "batch", {**FILES, Y: "ok"}),
    rule("billing:declaration-file", "declaration", {**FILES, D: "ok", Y: "ok"}),
    rule("billing:refund-file", "refund_export", {**FILES, D: "ok", Y: "ok"}),
    rule("billing:receipts", None, {**FILES, C: "ok", CB: "ok"}, note="the coordinator's own school's receipts"),
    rule("graduates:my-exceptions", None, PORTAL),
    rule("graduates:school-exceptions", "school", PORTAL_OBJECT),

    # --- API ---------------------------------------------------------------
    rule("api-student-import", "school_code", {**API_OBJECT, D: "ok", Y: "ok"}, method="POST",
         note="without a file: 400 once the school is in scope"),
    rule("api-job", "import_job", API_OBJECT),
    rule("api-job-report", "import_job", API_OBJECT),
    rule("coverage", "identity_number", API_OBJECT),
    rule("school-list", None, API_LIST),
    rule("school-detail", "school", API_OBJECT),
    rule("student-list", None, API_LIST),
    rule("student-detail", "student", API_OBJECT),
    # A school's system registers students: coordinators in their own school, staff in a school of their scope
    # (an empty body is a 400 naming the field); machine tokens never write.
    rule("student-list", None, API_LIST, method="POST", note="an empty body: 400 once the caller may write"),
    rule("student-detail", "student", API_OBJECT, method="PATCH", note="an empty change: 200 when the student is in scope"),
    # Insurance years are the city's: every logged-in persona of the city reads them.
    rule("insurance-year-list", None, API_LIST),
    rule("insurance-year-detail", "year", API_LIST),
    rule("roster-list", None, API_LIST),
    rule("roster-detail", "roster", API_OBJECT),
    rule("roster-preview", "roster", API_OBJECT),
    # Only the school's own coordinator confirms; staff are refused by role, others by scope.
    rule("roster-confirm", "roster", {**API_OBJECT, D: "denied", DB: "denied", Y: "denied"}, method="POST"),
    rule("roster-supplementary", "roster", API_OBJECT),
    rule("roster-confirm-supplementary", "roster", {**API_OBJECT, D: "denied", DB: "denied", Y: "denied"}, method="POST"),
    # Transfers: the asking school (B) sees the request it made but cannot decide it; machines have no access.
    rule("transfer-list", None, API_LIST),
    rule("transfer-list", None, {**API_LIST, D: "denied", DB: "denied", Y: "denied"}, method="POST",
         note="only a coordinator asks: without a number, 400 for coordinators"),
    rule("transfer-detail", "transfer", {**API_OBJECT, CB: "ok"}),
    rule("transfer-accept", "transfer", {**API_OBJECT, CB: "denied"}, method="POST"),
    rule("transfer-refuse", "transfer", {**API_OBJECT, CB: "denied"}, method="POST"),
    rule("enrollment-list", None, API_LIST),
    rule("enrollment-detail", "enrollment", API_OBJECT),
    rule("exemption-list", None, API_STAFF_LIST),
    # The register is keyed by identity number, not by school: every staff member of the city reads it.
    rule("exemption-detail", "exemption", API_STAFF_LIST),
    rule("card-list", None, API_LIST),
    rule("card-detail", "card", API_OBJECT),
    rule("card-ready", "card", {**API_STAFF_OBJECT}, method="POST"),
    rule("card-picked-up", "card", {**API_STAFF_OBJECT}, method="POST"),
    rule("coordinator-list", None, API_LIST),
    rule("coordinator-detail", "registry_entry", API_OBJECT),
    rule("declaration-payment", "declaration", API_STAFF_OBJECT, method="POST"),
    # City staff only: district staff get an empty list and 404.
    rule("debit-batch-list", None, API_STAFF_LIST),
    rule("debit-batch-detail", "batch", {**API_STAFF_LIST, D: "hidden", DB: "hidden"}),
    rule("debit-instruction-list", None, API_LIST),
    rule("debit-instruction-detail", "instruction", API_OBJECT),
    rule("declaration-list", None, API_LIST),
    rule("declaration-detail", "declaration", API_OBJECT),
    # The machines' door: the feed token only; people (staff included) upload in the admin.
    rule("graduate-feed-create", None, {p: "denied" for p in PERSONAS} | {A: "anon", S: "ok"}, method="POST",
         note="an empty body: 400 for the feed token, refusal for everyone else"),

    # --- Admin: site-wide views ---------------------------------------------
    rule("admin:index", None, ADMIN),
    rule("admin:login", None, {p: "any" for p in PERSONAS}, note="the login form; staff already in are sent on"),
    rule("admin:logout", None, {p: "any" for p in PERSONAS}, method="POST", fresh_client=True),
    rule("admin:password_change", None, ADMIN),
    rule("admin:password_change_done", None, ADMIN),
    rule("admin:autocomplete", None, {**ADMIN, D: "denied", DB: "denied", Y: "denied"},
         note="without its parameters the autocomplete answers 403 even to staff"),
    rule("admin:jsi18n", None, ADMIN),
    rule("admin:auth_user_password_change", "user", {**ADMIN, D: "denied", DB: "denied", Y: "denied"},
         note="setting another user's password: superusers only"),
    rule("admin:view_on_site", "view_on_site_student", {**ADMIN, D: "hidden", DB: "hidden", Y: "hidden"},
         note="students have no public page: 404 for everyone allowed in the admin"),
    rule("admin:app_list", "app_enrollment", ADMIN),
    rule("admin/(?P<url>.*)$", "admin_catch_all", {**ADMIN, D: "hidden", DB: "hidden", Y: "hidden"}),
    # The old change-page URLs without "change/": a plain redirect, no data, whoever asks.
    rule("admin/*/<path:object_id>/", "legacy_change", ADMIN,
         note="redirect to .../change/, which is in the matrix itself"),

    # --- Admin: custom views --------------------------------------------------
    rule("admin:enrollment_exemption_import", None, ADMIN),
    rule("admin:enrollment_exemption_letter", None, ADMIN),
    rule("admin:coordinators_handout_pending", None, ADMIN),
    rule("admin:coordinators_missing", None, ADMIN),
    rule("admin:coordinators_annex2", None, ADMIN),
    rule("admin:coordinators_student_import", None, ADMIN),
    rule("admin:coordinators_student_import_job", "import_job", ADMIN_OBJECT),
    rule("admin:coordinators_student_import_status", "import_job", ADMIN_OBJECT),
    rule("admin:coordinators_student_import_report", "import_job", ADMIN_OBJECT),
    rule("admin:billing_debitbatch_generate", None, ADMIN_CITY),
    rule("admin:billing_debitbatch_import", "batch", ADMIN_CITY),
    rule("admin:billing_refundexport_import", "refund_export", {**ADMIN_CITY, DB: "hidden|denied"}),
    rule("admin:billing_declaration_generate", None, ADMIN_CITY),
    rule("admin:billing_declaration_receipts", None, ADMIN_CITY),
    rule("admin:graduates_graduatefeed_upload", None, ADMIN_CITY),
    rule("admin:graduates_graduatefeed_run", None, ADMIN_CITY, method="POST"),
]


# --- Admin: the generated pages of every registered model --------------------
# Rights of each role's group per model ("v"iew, "a"dd, "c"hange, "d"elete) as the admin grants them, and
# the scoping: True, district staff of Haizhu do not find school A's object; "city", only city staff find
# it (bank batches cover the whole city); "tenant", the object belongs to Guangzhou as a whole (its insurance
# year, exemption categories and register): all Guangzhou staff find it, Suzhou's staff do not; "unbillable",
# school A's confirmation is billable and so not on the unbillable list for anyone. Suzhou's city staff (Z)
# have Guangzhou's city staff's rights, Suzhou's district staff (ZD) Guangzhou's district staff's; both find
# only objects of unscoped models (False). Rights drawn from the role groups but narrowed where the admin
# creates objects through its own pages (exemption imports, feed uploads, batch generation). Models
# absent here are superuser-only.

ADMIN_RIGHTS = {
    # model label: (district staff, city staff, scoped)
    "enrollment.city": ("v", "vc", "tenant"),
    "enrollment.office": ("v", "vac", True),
    "enrollment.bank": ("v", "vac", False),
    "enrollment.exemptioncategory": ("v", "vac", "tenant"),
    "enrollment.insuranceyear": ("v", "vac", "tenant"),
    "enrollment.school": ("vac", "vac", True),
    "enrollment.schoolaccount": ("vac", "vac", True),
    "enrollment.membership": ("v", "vac", True),
    "enrollment.student": ("vc", "vc", True),
    "enrollment.citizencard": ("vc", "vc", True),
    "enrollment.job": ("v", "v", True),
    "enrollment.exemption": ("vc", "vc", "tenant"),
    "enrollment.enrollment": ("vc", "vc", True),
    "enrollment.roster": ("vc", "vc", True),
    "enrollment.rosterconfirmation": ("v", "vc", True),
    "enrollment.chargecorrection": ("v", "vc", True),
    "enrollment.auditevent": ("v", "v", True),
    "enrollment.personaldataaccess": ("", "v", True),
    "enrollment.transfer": ("v", "v", True),
    "enrollment.otherinsurance": ("vc", "vc", True),
    "enrollment.otherchannelenrollment": ("v", "v", True),
    "coordinators.notice": ("vac", "vacd", True),
    "coordinators.handout": ("v", "v", True),
    "coordinators.coordinator": ("vc", "vc", True),
    "billing.debitbatch": ("v", "vc", "city"),
    "billing.debitinstruction": ("v", "v", True),
    "billing.unbillableconfirmation": ("v", "v", "unbillable"),
    "billing.refund": ("v", "vc", True),
    "billing.refundexport": ("v", "v", True),
    "billing.declaration": ("v", "vc", True),
    "billing.receiptimport": ("v", "v", "tenant"),
    "billing.billingfiledownload": ("", "v", "tenant"),
    "graduates.graduatefeed": ("v", "vc", "tenant"),
    "graduates.graduaterecord": ("vc", "vc", True),
    "graduates.deregistrationrun": ("v", "v", "tenant"),
}

ADMIN_KINDS = ("changelist", "change", "history")
# Add and delete pages follow the same rights through Django's own checks; walking them for every model
# doubles the run for no new rule. They are listed so that a model's new custom page is not mistaken for them.
ADMIN_NOT_WALKED = {"add": "same rights check as change (has_add_permission)", "delete": "has_delete_permission"}
ADMIN_HOLES: dict = {}  # (model label, kind, persona) -> reason


def admin_expect(label: str, kind: str) -> dict:
    """What each persona gets on a generated admin page of ``label`` for school A's object."""
    district, city, scoped = ADMIN_RIGHTS.get(label, ("", "", False))
    expect = {A: "login", C: "login", CB: "login", S: "login"}
    for persona, rights, outsider in (
        (D, district, False), (DB, district, True), (Y, city, False), (Z, city, True), (ZD, district, True),
    ):
        viewable = bool(set(rights) & {"v", "c"})
        finds = not (outsider and scoped is True)
        if scoped == "city":
            finds = persona == Y
        elif scoped == "tenant" or (persona in (Z, ZD) and scoped is not False):
            finds = persona not in (Z, ZD)
        elif scoped == "unbillable":
            finds = False
        outsider = not finds
        if kind == "changelist":
            outcome = "ok" if viewable else "denied"
        elif kind == "add":
            outcome = "ok" if "a" in rights else "denied"
        elif kind == "change":
            outcome = ("hidden" if outsider else "ok") if viewable else "denied"
        elif kind == "delete":
            outcome = ("hidden" if outsider else "ok") if "d" in rights else "denied"
        else:  # history: Django looks the object up before checking rights
            outcome = "hidden" if outsider else ("ok" if viewable else "denied")
        expect[persona] = outcome
    return expect


