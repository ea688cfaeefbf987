"""API tokens are stored as hashes, shown once, expire and can be revoked one by one."""

import datetime
import hashlib
import importlib

from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from enrollment.models import AuditEvent
from tests.factories import login

STUDENTS = "/api/v1/students"


def _get(text):
    return APIClient().get(STUDENTS, HTTP_AUTHORIZATION=f"Token {text}")


def test_only_a_hash_of_the_token_is_stored_and_the_token_still_authenticates(world):
    row, text = AuthToken.objects.create(user=world.coordinator)
    stored = AuthToken.objects.get(pk=row.pk)
    assert stored.digest == hashlib.sha512(text.encode()).hexdigest()
    assert text not in {stored.digest, stored.token_key}
    assert _get(text).status_code == 200


def test_an_expired_token_is_refused_and_removed(world):
    row, text = AuthToken.objects.create(user=world.coordinator, expiry=datetime.timedelta(days=1))
    AuthToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - datetime.timedelta(seconds=1))
    assert _get(text).status_code in (401, 403)
    assert not AuthToken.objects.filter(pk=row.pk).exists()


def test_revoking_one_token_leaves_the_others_working(world):
    first, first_text = AuthToken.objects.create(user=world.coordinator)
    _second, second_text = AuthToken.objects.create(user=world.coordinator)
    first.delete()
    assert _get(first_text).status_code in (401, 403)
    assert _get(second_text).status_code == 200


def test_a_new_token_expires_after_the_configured_days_by_default(world, settings):
    row, _text = AuthToken.objects.create(user=world.coordinator)
    assert row.expiry is not None and row.expiry > timezone.now() + datetime.timedelta(days=300)


def test_the_admin_shows_a_new_token_once_and_never_again(client, world):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x-very-secret-1")
    login(client, root)
    response = client.post(
        "/admin/knox/authtoken/add/", {"user": world.coordinator.pk, "expiry_0": "", "expiry_1": ""}, follow=True
    )
    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)] or [
        line for line in response.content.decode().split(">") if line.startswith("TOKEN ")
    ]
    text = next(m.split()[1].split("<")[0] for m in shown if m.startswith("TOKEN"))
    assert _get(text).status_code == 200
    # Shown on the page after saving; never again.
    listing = client.get("/admin/knox/authtoken/").content.decode()
    assert text not in listing
    row = AuthToken.objects.get(user=world.coordinator)
    assert text not in client.get(f"/admin/knox/authtoken/{row.pk}/change/").content.decode()


def test_the_command_prints_a_working_token_once_and_records_the_issue(world, capsys):
    call_command("issue_api_token", world.coordinator.username, "--days", "30")
    text = capsys.readouterr().out.strip()
    assert _get(text).status_code == 200
    row = AuthToken.objects.get(user=world.coordinator)
    assert timezone.now() + datetime.timedelta(days=29) < row.expiry < timezone.now() + datetime.timedelta(days=31)
    assert AuditEvent.objects.filter(action="api_token_issued", object_id=world.coordinator.pk).exists()


def test_the_command_can_revoke_the_accounts_other_tokens(world, capsys):
    _old, old_text = AuthToken.objects.create(user=world.coordinator)
    call_command("issue_api_token", world.coordinator.username, "--revoke-others")
    new_text = capsys.readouterr().out.strip()
    assert _get(old_text).status_code in (401, 403)
    assert _get(new_text).status_code == 200


def test_the_upgrade_deletes_the_plain_text_tokens(world, capsys):
    migration = importlib.import_module("enrollment.migrations.0010_plain_api_tokens_removed")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz, user_id integer)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('0123456789abcdef0123456789abcdef01234567', now(), %s)",
                       [world.coordinator.pk])
    with connection.schema_editor() as editor:
        migration.drop_plain_tokens(None, editor)
    assert "authtoken_token" not in connection.introspection.table_names()
    assert world.coordinator.username in capsys.readouterr().out
