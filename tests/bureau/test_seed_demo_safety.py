"""seed_demo cannot overwrite a real database by accident, nor leave known passwords on a production instance."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bureau.management.commands.seed_demo import DEFAULT_PASSWORD
from enrollment.models import School
from tests.factories import SchoolFactory


@pytest.mark.django_db
def test_with_debug_off_no_known_password_is_set_printed_or_given_to_a_superuser(capsys, django_user_model, settings):
    settings.DEBUG = False
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert DEFAULT_PASSWORD not in out
    assert not django_user_model.objects.filter(username="admin").exists()
    assert not django_user_model.objects.filter(is_superuser=True).exists()
    for user in django_user_model.objects.all():
        assert not user.check_password(DEFAULT_PASSWORD), user.username
    assert School.objects.filter(code__startswith="DEMO-").count() == 5


@pytest.mark.django_db
def test_with_debug_off_a_rerun_keeps_the_passwords_people_set(django_user_model, settings):
    settings.DEBUG = False
    call_command("seed_demo")
    coordinator = django_user_model.objects.get(username="coord-gz1")
    coordinator.set_password("chosen-by-the-demo-host-1")
    coordinator.save()
    call_command("seed_demo")
    coordinator.refresh_from_db()
    assert coordinator.check_password("chosen-by-the-demo-host-1")


@pytest.mark.django_db
def test_with_debug_off_an_explicit_password_is_refused(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo", "--password", "known-to-everyone-42")
    assert not School.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_a_database_with_real_schools_is_refused_without_the_explicit_flag(settings, debug, django_user_model):
    settings.DEBUG = debug
    real = SchoolFactory(code="GZ-YX-001")
    with pytest.raises(CommandError, match="--force-demo-data"):
        call_command("seed_demo")
    assert not School.objects.filter(code__startswith="DEMO-").exists()
    call_command("seed_demo", "--force-demo-data")
    assert School.objects.filter(code__startswith="DEMO-").count() == 5
    assert School.objects.filter(pk=real.pk).exists()


@pytest.mark.django_db
def test_a_database_with_real_accounts_is_refused(settings, django_user_model):
    settings.DEBUG = True
    django_user_model.objects.create_user("wang.fang", password="x-very-secret-1")
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not School.objects.filter(code__startswith="DEMO-").exists()
