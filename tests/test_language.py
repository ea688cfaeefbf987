"""The interface is Chinese by default, English on the user's choice; the API follows Accept-Language."""

import ast
import gettext
import shutil
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse


def test_pages_stay_chinese_whatever_the_browser_prefers(client, db):
    page = client.get(reverse("portal:login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="zh-hans"' in page


def test_pages_switch_to_english_when_the_user_chooses_it(client, db):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("portal:login")).content.decode()
    assert 'lang="en"' in page


def test_api_errors_follow_the_callers_accept_language(client, db):
    english = client.get("/api/v1/schools", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    chinese = client.get("/api/v1/schools", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["message"]
    assert english != chinese
    assert english.isascii()


# --- The English catalogue is complete ---------------------------------------------------------------------------
#
# Regenerate the catalogues with (from the project root):
#   DEBUG=1 python manage.py makemessages -l en -l zh_Hans --no-obsolete -i tests -i bench -i scripts -i var -i static -i docs
# then translate every empty or fuzzy msgstr of locale/en and run `DEBUG=1 python manage.py compilemessages`.

MAKEMESSAGES_IGNORE = ["tests", "bench", "scripts", "var", "static", "docs"]
ENGLISH_PO = settings.BASE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"


def _catalogue(path):
    """(msgid, msgstr values, fuzzy) of every entry of a .po file, header and obsolete entries left out."""
    entries, comments, fields, current = [], [], {}, None

    def close():
        if fields.get("msgid"):
            fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in comments)
            entries.append((fields["msgid"], [v for k, v in fields.items() if k.startswith("msgstr")], fuzzy))

    for line in Path(path).read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            close()
            comments, fields, current = [], {}, None
        elif line.startswith("#"):
            comments.append(line)
        elif line.startswith('"'):
            fields[current] += ast.literal_eval(line)
        else:
            current, _, value = line.partition(" ")
            fields[current] = ast.literal_eval(value)
    return entries


def test_every_english_interface_text_has_a_checked_translation():
    untranslated = [msgid for msgid, msgstrs, fuzzy in _catalogue(ENGLISH_PO) if fuzzy or not all(msgstrs)]
    assert untranslated == [], f"{len(untranslated)} untranslated or fuzzy entries in {ENGLISH_PO}"


def test_the_compiled_english_catalogue_is_the_translated_one():
    with open(ENGLISH_PO.with_suffix(".mo"), "rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    stale = [
        msgid
        for msgid, msgstrs, _fuzzy in _catalogue(ENGLISH_PO)
        if len(msgstrs) == 1 and catalogue.gettext(msgid) != msgstrs[0]
    ]
    assert stale == [], f"{len(stale)} entries differ from django.mo: run compilemessages"


def test_every_text_marked_for_translation_in_the_code_is_in_the_english_catalogue(tmp_path, monkeypatch):
    assert shutil.which("xgettext"), "gettext is not installed: run `make system-packages`"
    root = settings.BASE_DIR
    copy = tmp_path / "project"
    shutil.copytree(
        root, copy, ignore=shutil.ignore_patterns(".*", "__pycache__", "*.pyc", *MAKEMESSAGES_IGNORE)
    )
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[copy / "locale"]):
        call_command("makemessages", locale=["en"], ignore_patterns=MAKEMESSAGES_IGNORE, verbosity=0)
    in_code = {
        msgid for msgid, _msgstrs, _fuzzy in _catalogue(copy / "locale" / "en" / "LC_MESSAGES" / "django.po")
    }
    in_catalogue = {msgid for msgid, _msgstrs, _fuzzy in _catalogue(ENGLISH_PO)}
    missing = sorted(in_code - in_catalogue)
    assert missing == [], f"{len(missing)} texts are not in {ENGLISH_PO}: run makemessages and translate them"
