"""The interface is Chinese by default, English on the user's choice; the API follows Accept-Language."""

from django.conf import settings
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
