"""Log-in lockout, idle session expiry and log-out everywhere on a password change."""

import datetime
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import PASSWORD

LIMIT = 5  # one account from one address
ACCOUNT_LIMIT = 10  # one account from any address
ADDRESS_LIMIT = 20  # different accounts from one address


@pytest.fixture(autouse=True)
def _lockout_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.LOGIN_LOCKOUT_LIMITS = {"username": ACCOUNT_LIMIT, "ip_address": ADDRESS_LIMIT}


@pytest.fixture
def world(world):
    # The user factory sets the password on the object only; log-in checks the database.
    for user in (world.coordinator, world.district_staff, world.city_staff):
        user.save(update_fields=["password"])
    return world


def _post_login(url, username, password, address="10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(url, {"username": username, "password": password})


def _portal_login_url():
    return reverse("portal:login")


@pytest.mark.parametrize("page", ["admin", "portal"])
def test_account_is_locked_after_repeated_failures_even_with_the_right_password(world, page):
    url = "/admin/login/" if page == "admin" else _portal_login_url()
    user = world.district_staff if page == "admin" else world.coordinator
    for _ in range(LIMIT - 1):
        assert _post_login(url, user.username, "wrong-password").status_code == 200
    # The failure that reaches the limit is answered with the lockout page already.
    assert _post_login(url, user.username, "wrong-password").status_code == 429
    locked = _post_login(url, user.username, PASSWORD)
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "登录已被暂时锁定" in text
    assert "30 分钟" in text
    assert "_auth_user_id" not in locked.client.session


def test_failures_from_many_addresses_still_lock_the_account(world):
    for n in range(ACCOUNT_LIMIT):
        _post_login("/admin/login/", world.district_staff.username, "wrong-password", address=f"10.0.1.{n}")
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD, address="10.0.2.1").status_code == 429


def test_guessing_many_accounts_from_one_address_locks_the_address(world):
    for n in range(ADDRESS_LIMIT):
        _post_login("/admin/login/", f"someone-{n}", "wrong-password", address="10.0.3.1")
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD, address="10.0.3.1").status_code == 429
    # Another address is not affected by that address's lockout.
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD, address="10.0.3.2").status_code == 302


def test_a_successful_log_in_before_the_limit_resets_the_count(world):
    for _ in range(LIMIT - 1):
        _post_login("/admin/login/", world.district_staff.username, "wrong-password")
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD).status_code == 302
    for _ in range(LIMIT - 1):
        _post_login("/admin/login/", world.district_staff.username, "wrong-password")
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD).status_code == 302


def _admin_client(user):
    client = Client()
    client.force_login(user, backend="enrollment.auth.MembershipBackend")
    return client


def _age_session(client, *, expires_in: datetime.timedelta, refreshed_seconds_ago: int):
    session = client.session
    session["_refreshed_at"] = int(time.time()) - refreshed_seconds_ago
    session.save()
    Session.objects.filter(pk=session.session_key).update(expire_date=timezone.now() + expires_in)
    return session.session_key


def test_activity_pushes_the_idle_expiry_forward(world, settings):
    client = _admin_client(world.district_staff)
    key = _age_session(client, expires_in=datetime.timedelta(minutes=1), refreshed_seconds_ago=settings.SESSION_COOKIE_AGE - 60)
    assert client.get("/admin/").status_code == 200
    expiry = Session.objects.get(pk=key).expire_date
    assert expiry > timezone.now() + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


def test_the_session_is_written_at_most_once_a_minute(world, settings):
    client = _admin_client(world.district_staff)
    key = _age_session(client, expires_in=datetime.timedelta(minutes=20), refreshed_seconds_ago=5)
    before = Session.objects.get(pk=key).expire_date
    assert client.get("/admin/").status_code == 200
    assert Session.objects.get(pk=key).expire_date == before


def test_anonymous_visits_create_no_sessions(db):
    Client().get("/admin/login/")
    Client(HTTP_COOKIE="sessionid=expired-or-forged").get("/admin/login/")
    assert Session.objects.count() == 0


def test_a_session_idle_longer_than_the_limit_is_logged_out(world, settings):
    assert settings.SESSION_COOKIE_AGE <= 30 * 60
    client = _admin_client(world.district_staff)
    assert client.get("/admin/").status_code == 200
    Session.objects.filter(pk=client.session.session_key).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_setting_a_new_password_logs_out_every_open_session(world):
    first, second = _admin_client(world.district_staff), _admin_client(world.district_staff)
    assert first.get("/admin/").status_code == 200 and second.get("/admin/").status_code == 200
    world.district_staff.set_password("another-long-passphrase-42")
    world.district_staff.save()
    assert first.get("/admin/").status_code == 302
    assert second.get("/admin/").status_code == 302


def test_changing_ones_password_in_the_admin_logs_out_the_other_sessions_only(world):
    here, elsewhere = _admin_client(world.district_staff), _admin_client(world.district_staff)
    new = "another-long-passphrase-42"
    response = here.post(
        "/admin/password_change/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert here.get("/admin/").status_code == 200
    assert elsewhere.get("/admin/").status_code == 302


def test_weak_passwords_are_refused(world):
    client = _admin_client(world.district_staff)
    response = client.post(
        "/admin/password_change/", {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    )
    assert response.status_code == 200
    world.district_staff.refresh_from_db()
    assert world.district_staff.check_password(PASSWORD)


def test_behind_the_proxy_failures_count_against_the_address_the_proxy_saw(world, settings):
    settings.BEHIND_TLS_PROXY = True

    def attempt(forwarded, password="wrong-password"):
        return Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=forwarded).post(
            "/admin/login/", {"username": f"guess-{forwarded}", "password": password}
        )

    # One client forging different left-hand entries is still one address...
    for n in range(ADDRESS_LIMIT - 1):
        assert attempt(f"1.1.1.{n}, 203.0.113.7").status_code == 200
    assert attempt("1.1.1.99, 203.0.113.7").status_code == 429
    # ...and other users behind the same proxy are not locked out with it.
    response = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.8").post(
        "/admin/login/", {"username": world.district_staff.username, "password": PASSWORD}
    )
    assert response.status_code == 302


def test_one_accounts_failures_do_not_lock_the_colleagues_behind_the_same_address(world):
    office = "10.0.5.1"
    for _ in range(LIMIT):
        _post_login("/admin/login/", world.city_staff.username, "wrong-password", address=office)
    assert _post_login("/admin/login/", world.city_staff.username, PASSWORD, address=office).status_code == 429
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD, address=office).status_code == 302
    assert _post_login(_portal_login_url(), world.coordinator.username, PASSWORD, address=office).status_code == 302


def test_an_account_locked_at_one_address_still_logs_in_from_another_below_the_account_limit(world):
    for _ in range(LIMIT):
        _post_login("/admin/login/", world.district_staff.username, "wrong-password", address="10.0.6.1")
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD, address="10.0.6.1").status_code == 429
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD, address="10.0.6.2").status_code == 302


def test_a_few_accounts_failing_behind_one_address_do_not_lock_the_address(world):
    for n in range(ADDRESS_LIMIT - 2):
        _post_login("/admin/login/", f"typo-{n}", "wrong-password", address="10.0.7.1")
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD, address="10.0.7.1").status_code == 302


@pytest.mark.parametrize("page", ["admin", "portal"])
def test_a_failed_log_in_says_how_many_tries_remain(world, page):
    url = "/admin/login/" if page == "admin" else _portal_login_url()
    user = world.district_staff if page == "admin" else world.coordinator
    first = _post_login(url, user.username, "wrong-password").content.decode()
    assert f"还可尝试 {LIMIT - 1} 次" in first and "30 分钟" in first
    second = _post_login(url, user.username, "wrong-password").content.decode()
    assert f"还可尝试 {LIMIT - 2} 次" in second


def test_the_lockout_page_says_when_the_lock_ends(world):
    for _ in range(LIMIT):
        _post_login("/admin/login/", world.district_staff.username, "wrong-password")
    page = _post_login("/admin/login/", world.district_staff.username, PASSWORD).content.decode()
    ends = timezone.localtime(timezone.now() + datetime.timedelta(minutes=30))
    assert "锁定将于" in page
    assert ends.strftime("%Y-%m-%d") in page and (ends.strftime("%H:%M") in page or
                                                   (ends - datetime.timedelta(minutes=1)).strftime("%H:%M") in page)


def _locked_coordinator(world):
    from coordinators.models import Coordinator

    coordinator = Coordinator.objects.create(
        school=world.school, user=world.coordinator, name="陈老师", gender="F", mobile="13800138000"
    )
    for _ in range(LIMIT):
        _post_login(_portal_login_url(), world.coordinator.username, "wrong-password")
    assert _post_login(_portal_login_url(), world.coordinator.username, PASSWORD).status_code == 429
    return coordinator


def test_district_staff_unlock_their_coordinator_from_the_admin_and_it_is_recorded(world):
    from enrollment.models import AuditEvent

    coordinator = _locked_coordinator(world)
    staff = _admin_client(world.district_staff)
    response = staff.post(
        "/admin/coordinators/coordinator/", {"action": "unlock_login", "_selected_action": [coordinator.pk]}
    )
    assert response.status_code == 302
    assert _post_login(_portal_login_url(), world.coordinator.username, PASSWORD).status_code == 302
    event = AuditEvent.objects.get(action="login_unlocked")
    assert (event.actor, event.object_id) == (world.district_staff, world.coordinator.pk)
    assert event.changes["failures_cleared"] >= LIMIT


def test_staff_of_another_district_cannot_unlock_the_coordinator(world):
    from enrollment.models import AuditEvent

    coordinator = _locked_coordinator(world)
    world.other_district_staff.save(update_fields=["password"])
    _admin_client(world.other_district_staff).post(
        "/admin/coordinators/coordinator/", {"action": "unlock_login", "_selected_action": [coordinator.pk]}
    )
    assert _post_login(_portal_login_url(), world.coordinator.username, PASSWORD).status_code == 429
    assert not AuditEvent.objects.filter(action="login_unlocked").exists()


def _lock(url, user):
    for _ in range(LIMIT):
        _post_login(url, user.username, "wrong-password")
    assert _post_login(url, user.username, PASSWORD).status_code == 429


def _unlock_from_memberships(staff, *users):
    from enrollment.models import Membership

    return _admin_client(staff).post("/admin/enrollment/membership/", {
        "action": "unlock_login", "_selected_action": [Membership.objects.get(user=u).pk for u in users],
    })


def test_city_staff_unlock_a_locked_district_clerk_from_the_account_list_and_it_is_recorded(world):
    from enrollment.models import AuditEvent

    _lock("/admin/login/", world.district_staff)
    response = _unlock_from_memberships(world.city_staff, world.district_staff)
    assert response.status_code == 302
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD).status_code == 302
    event = AuditEvent.objects.get(action="login_unlocked")
    assert (event.actor, event.object_id) == (world.city_staff, world.district_staff.pk)
    assert event.changes["failures_cleared"] >= LIMIT


def test_district_staff_unlock_their_districts_coordinator_but_not_a_fellow_clerk(world):
    from enrollment.models import AuditEvent, Membership
    from tests.factories import make_user

    colleague = make_user("staff-yuexiu-2", role="district_staff", office=world.office, staff=True)
    colleague.save(update_fields=["password"])
    _lock(_portal_login_url(), world.coordinator)
    _lock("/admin/login/", colleague)
    assert Membership.objects.filter(user=colleague).exists()
    _unlock_from_memberships(world.district_staff, world.coordinator, colleague)
    assert _post_login(_portal_login_url(), world.coordinator.username, PASSWORD).status_code == 302
    assert _post_login("/admin/login/", colleague.username, PASSWORD).status_code == 429
    assert list(AuditEvent.objects.filter(action="login_unlocked").values_list("object_id", flat=True)) == [
        world.coordinator.pk
    ]
    # The coordinator's unlock is filed under the school: the district's staff read it in the audit trail.
    assert AuditEvent.objects.get(action="login_unlocked").school_id == world.school.pk


def test_staff_of_another_city_cannot_unlock_an_account(world):
    from django.core.exceptions import PermissionDenied

    from enrollment.lockout import login_unlock
    from enrollment.models import AuditEvent
    from enrollment.services.common import Actor
    from tests.factories import CityFactory, make_user

    suzhou_staff = make_user("staff-suzhou", role="city_staff", city=CityFactory(code="suzhou", name="苏州市"), staff=True)
    suzhou_staff.save(update_fields=["password"])
    _lock("/admin/login/", world.district_staff)
    _unlock_from_memberships(suzhou_staff, world.district_staff)  # not in their list: nothing happens
    with pytest.raises(PermissionDenied):
        login_unlock(actor=Actor(suzhou_staff, "admin"), user=world.district_staff)
    assert _post_login("/admin/login/", world.district_staff.username, PASSWORD).status_code == 429
    assert not AuditEvent.objects.filter(action="login_unlocked").exists()
