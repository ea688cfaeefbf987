"""Editing a student in the portal: the form comes back filled in and saves as it stands."""

import datetime
import re

import pytest
from django.urls import reverse

from enrollment.services.common import Actor
from enrollment.services.students import student_create
from tests import files

BACKEND = "enrollment.auth.MembershipBackend"


@pytest.fixture
def student(world):
    row = files.student_row(1)
    data = {"name": row[0], "identity_number": row[1], "sex": "M" if row[2] == "男" else "F",
            "birth_date": datetime.date.fromisoformat(row[3]), "grade": row[4], "class_name": row[5]}
    return student_create(actor=Actor(user=world.coordinator, source="portal"), school=world.school, data=data)


def _form_values(html: str) -> dict[str, str]:
    start = html.index('<form method="post" class="card form">')
    form = html[start : html.index("</form>", start)]
    values = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="submit"' in tag:
            continue
        if 'type="checkbox"' in tag:
            if "checked" in tag:
                values[name.group(1)] = "on"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        values[name.group(1)] = value.group(1) if value else ""
    for select in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select[1])
        values[select[0]] = chosen.group(1) if chosen else ""
    return values


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_edit_form_shows_the_birth_date_and_saves_a_change_without_retyping_it(client, world, student, language):
    client.force_login(world.coordinator, backend=BACKEND)
    client.cookies["django_language"] = language
    url = reverse("portal:student_edit", args=[student.pk])
    values = _form_values(client.get(url).content.decode())
    assert values["birth_date"] == student.birth_date.isoformat()

    values["class_name"] = "九班"
    response = client.post(url, values)

    assert response.status_code == 302, response.content.decode()[:2000]
    student.refresh_from_db()
    assert student.class_name == "九班"
    assert student.birth_date == datetime.date.fromisoformat(files.student_row(1)[3])
