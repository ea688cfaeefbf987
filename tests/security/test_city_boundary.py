"""Each city sees and changes only its own: one test per page that let staff cross the city or district line.

Guangzhou (the ``world``: Yuexiu and Haizhu districts) and Suzhou (its social-security centre, a university,
its own city staff) side by side; each test requests the other tenant's object as a member of staff.
"""

import datetime

import pytest
from django.urls import reverse

from enrollment.models import Exemption, ExemptionCategory, InsuranceYear, Job, PersonalDataAccess
from graduates.models import DeregistrationRun, GraduateFeed
from tests.factories import (
    CityFactory,
    InsuranceYearFactory,
    OfficeFactory,
    SchoolFactory,
    identity_number,
    login,
    make_user,
)


@pytest.fixture
def suzhou(world):
    city = CityFactory(code="suzhou", name="苏州市")
    centre = OfficeFactory(code="sz-centre", city=city, name="苏州市社保中心", district="姑苏区")
    school = SchoolFactory(code="SZ-U-001", name="苏州大学", office=centre, kind="university")
    year = InsuranceYearFactory(city=city, label="2020-test", fee_standard="140.00", collection_route="tax_declaration")
    category = ExemptionCategory.objects.create(city=city, code="minimum_living", name="低保人员")
    exemption = Exemption.objects.create(
        identity_number=identity_number(region="320508"), name="苏州免缴生", category=category, source="civil_affairs",
        valid_from=datetime.date(2019, 1, 1),
    )
    staff = make_user("staff-suzhou", role="city_staff", city=city, staff=True)
    district_staff = make_user("staff-suzhou-centre", role="district_staff", office=centre, staff=True)
    coordinator = make_user("coord-suzhou", role="coordinator", school=school)
    return type("Suzhou", (), {
        "city": city, "office": centre, "school": school, "year": year, "category": category, "exemption": exemption,
        "staff": staff, "district_staff": district_staff, "coordinator": coordinator,
    })


def test_guangzhou_staff_do_not_read_a_suzhou_exemption_with_full_numbers_over_the_api(client, world, suzhou):
    for user in (world.city_staff, world.district_staff):
        login(client, user)
        detail = client.get(f"/api/v1/exemptions/{suzhou.exemption.pk}?full=1")
        assert detail.status_code == 404, user
        listing = client.get("/api/v1/exemptions?full=1")
        assert suzhou.exemption.identity_number not in listing.content.decode()
    login(client, suzhou.staff)
    assert client.get(f"/api/v1/exemptions/{suzhou.exemption.pk}?full=1").status_code == 200


def test_the_admin_exemption_register_lists_and_finds_only_the_staffs_own_city(client, world, suzhou):
    login(client, world.district_staff)
    url = reverse("admin:enrollment_exemption_changelist")
    found = client.get(url, {"q": suzhou.exemption.identity_number})
    assert found.status_code == 200
    assert list(found.context["cl"].result_list) == []
    assert "苏州免缴生" not in client.get(url).content.decode()
    change = client.get(reverse("admin:enrollment_exemption_change", args=[suzhou.exemption.pk]))
    assert change.status_code == 302 and change["Location"].endswith("/admin/")


def test_city_staff_read_only_their_own_citys_entries_in_the_personal_data_access_log(client, world, suzhou):
    own = PersonalDataAccess.objects.create(user=world.district_staff, action="api_full_identity", target="gz")
    other = PersonalDataAccess.objects.create(user=suzhou.staff, action="api_full_identity", target="sz")
    login(client, world.city_staff)
    response = client.get(reverse("admin:enrollment_personaldataaccess_changelist"))
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == {own}
    assert client.get(reverse("admin:enrollment_personaldataaccess_change", args=[other.pk])).status_code == 302


def test_district_staff_see_the_exception_counts_of_their_own_districts_schools_only(client, world, suzhou):
    run = DeregistrationRun.objects.create(
        city=world.city, exceptions=9, exceptions_per_school={world.school.code: 4, world.other_school.code: 3, suzhou.school.code: 2},
    )
    login(client, world.other_district_staff)
    page = client.get(reverse("admin:graduates_deregistrationrun_change", args=[run.pk])).content.decode()
    assert world.other_school.code in page
    assert world.school.code not in page and suzhou.school.code not in page


def test_district_staff_do_not_see_who_uploaded_a_graduate_feed(client, world):
    feed = GraduateFeed.objects.create(source="school_roll", received_via="admin", checksum="c" * 64, city=world.city,
                                       received_by=world.city_staff, record_count=1)
    url = reverse("admin:graduates_graduatefeed_change", args=[feed.pk])
    login(client, world.district_staff)
    assert world.city_staff.username not in client.get(url).content.decode()
    login(client, world.city_staff)
    assert world.city_staff.username in client.get(url).content.decode()


def test_the_membership_form_offers_only_accounts_of_the_staffs_own_city(client, world, suzhou):
    login(client, world.city_staff)
    form = client.get(reverse("admin:enrollment_membership_add")).context["adminform"].form
    offered = set(form.fields["user"].queryset.values_list("username", flat=True))
    assert "coord-suzhou" not in offered and "staff-suzhou" not in offered
    assert "coord" in offered


def test_declaration_generation_offers_and_accepts_only_the_staffs_own_citys_years(client, world, suzhou):
    login(client, world.city_staff)
    url = reverse("admin:billing_declaration_generate")
    assert suzhou.year not in client.get(url).context["form"].fields["insurance_year"].queryset
    response = client.post(url, {"insurance_year": suzhou.year.pk})
    assert response.status_code == 200 and response.context["form"].errors
    assert not Job.objects.filter(insurance_year=suzhou.year).exists()


def test_receipt_import_offers_and_accepts_only_the_staffs_own_citys_years(client, world, suzhou):
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, world.city_staff)
    url = reverse("admin:billing_declaration_receipts")
    assert suzhou.year not in client.get(url).context["form"].fields["insurance_year"].queryset
    upload = SimpleUploadedFile("receipts.xlsx", b"PK")
    response = client.post(url, {"insurance_year": suzhou.year.pk, "file": upload})
    assert response.status_code == 200 and "insurance_year" in response.context["form"].errors


def test_suzhou_staff_can_neither_open_nor_save_guangzhous_insurance_year(client, world, suzhou):
    login(client, suzhou.staff)
    url = reverse("admin:enrollment_insuranceyear_change", args=[world.year.pk])
    opened = client.get(url)
    assert opened.status_code == 302 and opened["Location"].endswith("/admin/")
    client.post(url, {"city": suzhou.city.pk, "label": "改", "collection_route": "tax_declaration",
                      "fee_standard": "1.00", "window_start": "2019-09-01", "window_end": "2019-11-30",
                      "coverage_start": "2020-01-01", "coverage_end": "2020-12-31"})
    year = InsuranceYear.objects.get(pk=world.year.pk)
    assert (year.city_id, year.label) == (world.city.pk, world.year.label)
    listing = client.get(reverse("admin:enrollment_insuranceyear_changelist"))
    assert set(listing.context["cl"].result_list) == {suzhou.year}


def test_suzhou_staff_cannot_change_a_bank_guangzhou_debits_from(client, world, suzhou):
    from enrollment.models import Bank

    bank = Bank.objects.create(code="gzb", name="广州银行", file_format="default")
    bank.allowed_in.add(world.city)
    login(client, suzhou.staff)
    response = client.post(reverse("admin:enrollment_bank_change", args=[bank.pk]),
                           {"code": "gzb", "name": "广州银行", "file_format": "icbc_fixed", "allowed_in": [suzhou.city.pk]})
    assert response.status_code == 403
    bank.refresh_from_db()
    assert (bank.file_format, list(bank.allowed_in.all())) == ("default", [world.city])


def test_city_staff_list_a_new_bank_for_their_own_city_only(client, world, suzhou):
    from enrollment.models import Bank

    login(client, world.city_staff)
    form = client.get(reverse("admin:enrollment_bank_add")).context["adminform"].form
    assert list(form.fields["allowed_in"].queryset) == [world.city]
    client.post(reverse("admin:enrollment_bank_add"), {"code": "abc", "name": "农业银行", "file_format": "default",
                                                         "allowed_in": [suzhou.city.pk]})
    assert not Bank.objects.filter(code="abc").exists()


def test_a_coordinator_entry_offers_only_accounts_of_the_staffs_own_city(client, world, suzhou):
    from coordinators.models import Coordinator

    entry = Coordinator.objects.create(school=world.school, user=world.coordinator, name="越秀协管", gender="F",
                                       department="教务处", post="干事", work_phone="020-83000000", mobile="13800000000")
    login(client, world.city_staff)
    form = client.get(reverse("admin:coordinators_coordinator_change", args=[entry.pk])).context["adminform"].form
    offered = set(form.fields["user"].queryset.values_list("username", flat=True))
    assert "coord" in offered
    assert not offered & {"coord-suzhou", "staff-suzhou"}


@pytest.mark.parametrize("who", ["staff", "district_staff"])
def test_suzhou_staff_of_city_or_district_find_none_of_guangzhous_city_wide_objects(client, world, suzhou, who):
    gz_exemption = Exemption.objects.create(
        identity_number=identity_number(region="440104"), name="广州免缴生", category=ExemptionCategory.objects.create(
            city=world.city, code="gz_dibao", name="广州低保"), source="civil_affairs", valid_from=datetime.date(2019, 1, 1),
    )
    feed = GraduateFeed.objects.create(source="school_roll", received_via="admin", checksum="d" * 64, city=world.city)
    run = DeregistrationRun.objects.create(city=world.city)
    login(client, getattr(suzhou, who))
    assert client.get(f"/api/v1/exemptions/{gz_exemption.pk}?full=1").status_code == 404
    assert gz_exemption.identity_number not in client.get("/api/v1/exemptions?full=1").content.decode()
    assert client.get(f"/api/v1/insurance-years/{world.year.pk}").status_code == 404
    for name, obj in (("enrollment_exemption", gz_exemption), ("enrollment_insuranceyear", world.year),
                      ("graduates_graduatefeed", feed), ("graduates_deregistrationrun", run)):
        listing = client.get(reverse(f"admin:{name}_changelist"))
        assert listing.status_code == 200, name
        assert obj not in listing.context["cl"].result_list, name
        assert client.get(reverse(f"admin:{name}_change", args=[obj.pk])).status_code == 302, name


def test_suzhou_district_staff_see_their_own_citys_register_and_year(client, world, suzhou):
    login(client, suzhou.district_staff)
    assert client.get(f"/api/v1/exemptions/{suzhou.exemption.pk}").status_code == 200
    listing = client.get(reverse("admin:enrollment_insuranceyear_changelist"))
    assert set(listing.context["cl"].result_list) == {suzhou.year}


def test_guangzhou_city_staff_are_not_offered_suzhous_district_staff_in_the_membership_form(client, world, suzhou):
    login(client, world.city_staff)
    form = client.get(reverse("admin:enrollment_membership_add")).context["adminform"].form
    offered = set(form.fields["user"].queryset.values_list("username", flat=True))
    assert "staff-suzhou-centre" not in offered


def test_no_admin_list_offers_a_filter_value_of_the_other_city(client, world, suzhou):
    """Filters on a related field offer only values the staff's own rows use: never the other city's year or name."""
    from django.contrib import admin

    login(client, world.city_staff)
    offered = []
    for model, model_admin in admin.site._registry.items():
        if not model_admin.list_filter:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url)
        if response.status_code != 200:
            continue
        page = response.content.decode()
        if suzhou.year.label in page or suzhou.city.name in page or suzhou.office.name in page:
            offered.append(url)
    assert offered == []
