"""Factories for test data. Identity numbers are generated, valid, with real region codes."""

import datetime
import itertools
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from enrollment import identity
from enrollment.models import (
    Bank,
    City,
    CollectionRoute,
    InsuranceYear,
    Membership,
    Office,
    School,
    SchoolAccount,
    SchoolKind,
    Student,
)
from tests.files import chinese_digits

_sequence = itertools.count(1)


# A region and birth date hold few sequence numbers; a test that needs more numbers than that (the crash
# tests add students round after round) gets the next Guangzhou district's, so numbers stay unique.
_GUANGZHOU_DISTRICTS = ("440104", "440103", "440105", "440106", "440111", "440112", "440113", "440114", "440115",
                        "440117", "440118")


def identity_number(region: str | None = None, birth: datetime.date | None = None, sex: str | None = None) -> str:
    """A fresh valid identity number (Guangzhou 越秀区 first); ``sex`` "M"/"F" picks the sequence parity."""
    birth = birth or datetime.date(2010, 3, 15)
    seq = next(_sequence) % 500 * 2
    if sex == "M" or (sex is None and seq % 4 == 0):
        seq += 1
    cycle = next(_sequence) // 500
    region = region or _GUANGZHOU_DISTRICTS[cycle % len(_GUANGZHOU_DISTRICTS)]
    return identity.generate(region=region, birth=birth, sequence=seq)


class CityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = City
        django_get_or_create = ("code",)

    code = "guangzhou"
    name = "广州市"


class OfficeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Office
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"office-{n}")
    city = factory.SubFactory(CityFactory)
    name = factory.Sequence(lambda n: f"第{n}分局")
    district = factory.Sequence(lambda n: f"第{n}区")
    address = "测试路1号"
    liaison = "联络员"
    phone = "020-12345678"


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = School
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n:05d}")
    name = factory.Sequence(lambda n: f"第{n}中学")
    kind = SchoolKind.PRIMARY_SECONDARY
    office = factory.SubFactory(OfficeFactory)
    final_grade = 12


class BankFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bank
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"B{n:03d}")
    name = factory.Sequence(lambda n: f"测试银行{n}")


class SchoolAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SchoolAccount

    school = factory.SubFactory(SchoolFactory)
    bank = factory.SubFactory(BankFactory)
    account_number = factory.Sequence(lambda n: f"6222020{n:012d}")
    holder_name = factory.LazyAttribute(lambda o: o.school.name)
    agreement_signed_on = datetime.date(2014, 7, 1)


class InsuranceYearFactory(factory.django.DjangoModelFactory):
    """An open Guangzhou-style year by default: the window contains today."""

    class Meta:
        model = InsuranceYear
        django_get_or_create = ("city", "label")

    city = factory.SubFactory(CityFactory)
    label = factory.Sequence(lambda n: f"Y{n}")
    coverage_start = factory.LazyFunction(lambda: datetime.date(timezone.localdate().year + 1, 1, 1))
    coverage_end = factory.LazyAttribute(lambda o: o.coverage_start.replace(month=12, day=31))
    fee_standard = Decimal("200.00")
    fee_provisional = False
    window_start = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=30))
    window_end = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=30))
    collection_route = CollectionRoute.BANK_DEBIT


class StudentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Student

    school = factory.SubFactory(SchoolFactory)
    name = factory.Sequence(lambda n: f"学生{chinese_digits(n)}")
    birth_date = datetime.date(2010, 3, 15)
    identity_number = factory.LazyAttribute(lambda o: identity_number(birth=o.birth_date))
    sex = factory.LazyAttribute(lambda o: identity.sex(o.identity_number))
    grade = 5
    class_name = "5班"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")


def make_user(username: str, *, role: str, school=None, office=None, city=None, system_scope: str = "", staff=False):
    user = UserFactory(username=username, is_staff=staff)
    user.save()  # the factory sets the password after creation without saving it
    Membership.objects.update_or_create(
        user=user, defaults={"role": role, "school": school, "office": office, "city": city, "system_scope": system_scope}
    )
    if staff:
        from django.contrib.auth.models import Group

        group_name = {"district_staff": "district_staff", "city_staff": "city_staff"}.get(role)
        if group_name:
            group = Group.objects.filter(name=group_name).first()
            if group:
                user.groups.add(group)
    return user


def login(client, user):
    """Log the client in as ``user`` (the stored row, so the session matches its password hash)."""
    user.refresh_from_db()
    client.force_login(user, backend="enrollment.auth.MembershipBackend")
    return client
