"""Demo data for a first look at the system: an open insurance year per city, schools, people, students.

Safe to run again: every row is looked up by its natural key and updated, so a
second run changes nothing but the passwords (reset to the printed one).

Production safety: it refuses a database that holds anything but demo data
unless given --force-demo-data, and with DEBUG off it never sets a known
password: new demo accounts get random passwords that are not printed (set
them with ``manage.py changepassword``), existing accounts keep theirs, and no
``admin`` superuser is created.
"""

import datetime
import random
import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from coordinators.models import Coordinator
from enrollment import identity
from enrollment.models import (
    Bank,
    ChannelRule,
    City,
    CollectionRoute,
    Exemption,
    ExemptionCategory,
    ExemptionSource,
    InsuranceYear,
    MedicalAssistance,
    Membership,
    Office,
    RosterState,
    School,
    SchoolAccount,
    SchoolKind,
    Student,
)

DEFAULT_PASSWORD = "demo-insure-2468"
STUDENTS_PER_SCHOOL = 60

# (code, name, kind, office, final grade, first grade, bank, regions, coordinator username, coordinator name)
SCHOOLS = [
    ("DEMO-GZ-YX-001", "越秀区示例第一中学", SchoolKind.PRIMARY_SECONDARY, "gz-yuexiu", 12, 7, "icbc",
     ["440104", "440106"], "coord-gz1", "陈晓燕"),
    ("DEMO-GZ-HZ-001", "海珠区示例实验小学", SchoolKind.PRIMARY_SECONDARY, "gz-haizhu", 6, 1, "ccb",
     ["440105", "440106"], "coord-gz2", "黄志明"),
    ("DEMO-GZ-YX-V01", "越秀区示例职业技术学校", SchoolKind.DISTRICT_VOCATIONAL, "gz-yuexiu", 3, 1, "gzcb",
     ["440104", "440105", "440106"], "coord-gz3", "林建华"),
    ("DEMO-SZ-U01", "苏州示例大学", SchoolKind.UNIVERSITY, "sz-centre", 4, 1, "boc",
     ["320505", "320506", "440106"], "coord-sz1", "周静"),
    ("DEMO-SZ-U02", "苏州示例职业技术学院", SchoolKind.UNIVERSITY, "sz-centre", 3, 1, "abc",
     ["320506", "320505"], "coord-sz2", "吴磊"),
]
STAFF = [
    ("staff-yuexiu", "district_staff", {"office": "gz-yuexiu"}),
    ("staff-gz", "city_staff", {"city": "guangzhou"}),
    ("staff-sz", "city_staff", {"city": "suzhou"}),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程苏魏吕丁任沈"
GIVEN = ["子涵", "欣怡", "梓轩", "浩然", "雨桐", "宇航", "思彤", "俊杰", "佳怡", "泽宇", "诗琪", "明轩",
         "晓彤", "嘉豪", "一诺", "语嫣", "梓萱", "博文", "雅琳", "家乐", "天佑", "可欣", "文静", "志强"]


def demo_year_values(city_code: str, today: datetime.date) -> tuple[str, dict]:
    label = str(today.year + 1)
    values = {
        "coverage_start": datetime.date(today.year + 1, 1, 1),
        "coverage_end": datetime.date(today.year + 1, 12, 31),
        "window_start": today - datetime.timedelta(days=60),
        "window_end": today + datetime.timedelta(days=60),
        "fee_provisional": False,
    }
    if city_code == "guangzhou":
        values.update(fee_standard=Decimal("200.00"), collection_route=CollectionRoute.BANK_DEBIT,
                      coordinator_deadline=datetime.date(today.year, 7, 15))
    else:
        values.update(fee_standard=Decimal("140.00"), collection_route=CollectionRoute.TAX_DECLARATION,
                      coordinator_deadline=None)
    return label, values


def ensure_reference_data() -> None:
    if not (City.objects.filter(code="guangzhou").exists() and Office.objects.filter(code="sz-centre").exists()):
        call_command("loaddata", "reference", verbosity=0)


DEMO_USERNAMES = frozenset({"admin"} | {spec[8] for spec in SCHOOLS} | {username for username, _role, _scope in STAFF})


def is_demo_database() -> bool:
    """True when the database holds nothing but reference and demo data: no other school, no other account."""
    return not (
        School.objects.exclude(code__startswith="DEMO-").exists()
        or get_user_model().objects.exclude(username__in=DEMO_USERNAMES).exists()
    )


def upsert_user(username: str, password: str | None, *, staff: bool = False, superuser: bool = False):
    """``password`` None: a new account gets a random password nobody is told; an existing one keeps its own."""
    user, created = get_user_model().objects.get_or_create(username=username)
    user.is_staff = staff or superuser
    user.is_superuser = superuser
    user.is_active = True
    if password is not None:
        user.set_password(password)
    elif created:
        user.set_password(secrets.token_urlsafe(32))
    user.save()
    return user


def grant(user, *, role: str, group: str | None = None, **scope) -> None:
    defaults = {"role": role, "school": None, "office": None, "city": None, "system_scope": ""}
    defaults.update(scope)
    Membership.objects.update_or_create(user=user, defaults=defaults)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])


def seed_students(school: School, *, spec, year: InsuranceYear, rng: random.Random, serial: int) -> list[Student]:
    _code, _name, kind, _office, final_grade, first_grade, _bank, regions, *_rest = spec
    grades = list(range(first_grade, final_grade + 1))
    rows = {}
    for i in range(STUDENTS_PER_SCHOOL):
        grade = grades[i % len(grades)]
        # Age at the start of the coverage year: 6 in grade 1 of primary school, 18 in the first university year.
        start_age = 17 if kind == SchoolKind.UNIVERSITY else (15 if kind == SchoolKind.DISTRICT_VOCATIONAL else 6)
        birth_year = year.coverage_start.year - start_age - grade
        birth = datetime.date(birth_year, rng.randint(1, 12), rng.randint(1, 28))
        region = regions[i % len(regions)]
        number = identity.generate(region=region, birth=birth, sequence=(serial * 100 + i) % 1000)
        roll = rng.random()
        # A university also has students from other provinces (non-local hukou).
        local = region.startswith("3205") if kind == SchoolKind.UNIVERSITY else True
        rows[number] = {
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
            "sex": identity.sex(number),
            "birth_date": birth,
            "hukou_local": local,
            "hukou_rural": kind != SchoolKind.UNIVERSITY and roll < 0.10,
            "medical_assistance": (
                MedicalAssistance.CIVIL_AFFAIRS if 0.10 <= roll < 0.13
                else MedicalAssistance.DISABLED_FEDERATION if 0.13 <= roll < 0.15
                else MedicalAssistance.NONE
            ),
            "public_funded_care": 0.15 <= roll < 0.17,
            "school": school,
            "grade": grade,
            "class_name": f"{grade}年级{i % 3 + 1}班",
            "has_citizen_card": kind != SchoolKind.UNIVERSITY or roll > 0.25,
        }
    # One query to find, one to insert, one to update: a rerun rewrites the same values.
    existing = Student.objects.in_bulk(list(rows), field_name="identity_number")
    changed = []
    for number, student in existing.items():
        if student.school_id != school.pk or any(
            getattr(student, field) != value for field, value in rows[number].items() if field != "school"
        ):
            for field, value in rows[number].items():
                setattr(student, field, value)
            changed.append(student)
    if changed:
        Student.objects.bulk_update(changed, fields=list(next(iter(rows.values()))), batch_size=100)
    Student.objects.bulk_create(
        Student(identity_number=number, **values) for number, values in rows.items() if number not in existing
    )
    return list(Student.objects.filter(identity_number__in=list(rows)).order_by("pk"))


def seed_exemptions(students: list[Student], *, year: InsuranceYear) -> int:
    plain = [s for s in students if s.hukou_local and not s.hukou_rural and not s.medical_assistance]
    picks = [
        ("minimum_living", ExemptionSource.CIVIL_AFFAIRS),
        ("orphan", ExemptionSource.CIVIL_AFFAIRS),
        ("registered_poor", ExemptionSource.CIVIL_AFFAIRS),
        ("marginal_low_income", ExemptionSource.TRADE_UNION),
        ("disabled_hardship", ExemptionSource.DISABLED_FEDERATION),
    ]
    count = 0
    # Only the year's own city's categories exist for it (Guangzhou's notice exempts no one at school).
    categories = {c.code: c for c in ExemptionCategory.objects.filter(city_id=year.city_id)}
    for (category_code, source), student in zip(picks, plain[3::17], strict=False):
        if category_code not in categories:
            continue
        Exemption.objects.update_or_create(
            identity_number=student.identity_number,
            category=categories[category_code],
            source=source,
            defaults={"name": student.name, "valid_from": year.window_start - datetime.timedelta(days=180),
                      "valid_to": year.coverage_end},
        )
        count += 1
    return count


@transaction.atomic
def seed_demo(*, password: str | None, today: datetime.date) -> dict:
    """Create or update every demo row; returns what the command prints.

    ``password`` None (production settings): no known password is set and no superuser is created.
    """
    ensure_reference_data()
    rng = random.Random(20140626)  # fixed: the same names and numbers on every run
    years = {}
    for city in City.objects.filter(code__in=["guangzhou", "suzhou"]):
        label, values = demo_year_values(city.code, today)
        year, _created = InsuranceYear.objects.update_or_create(city=city, label=label, defaults=values)
        notice_year = (
            InsuranceYear.objects.filter(city=city).exclude(pk=year.pk).order_by("-window_start").first()
        )
        if notice_year is not None and not year.channel_rules.exists():
            ChannelRule.objects.bulk_create(
                ChannelRule(insurance_year=year, order=rule.order, condition=rule.condition, channel=rule.channel,
                            school_kinds=rule.school_kinds)
                for rule in notice_year.channel_rules.all()
            )
        years[city.code] = year

    logins = []
    if password is not None:
        admin = upsert_user("admin", password, superuser=True)
        logins.append((admin.username, "超级管理员"))
    schools = []
    exemptions = 0
    student_count = 0
    for serial, spec in enumerate(SCHOOLS):
        code, name, kind, office_code, final_grade, _first, bank_code, _regions, username, person = spec
        office = Office.objects.get(code=office_code)
        school, _created = School.objects.update_or_create(
            code=code,
            defaults={"name": name, "kind": kind, "office": office, "is_local": True, "is_agent": True,
                      "final_grade": final_grade, "active": True, "graduation_date": _last_graduation()},
        )
        bank = Bank.objects.get(code=bank_code)
        SchoolAccount.objects.update_or_create(
            school=school, active=True,
            defaults={"bank": bank, "account_number": f"6222020{serial + 1:03d}00012345",
                      "holder_name": name, "agreement_signed_on": today.replace(month=1, day=10)},
        )
        user = upsert_user(username, password)
        grant(user, role="coordinator", group="coordinator", school=school)
        Coordinator.objects.update_or_create(
            user=user,
            defaults={"school": school, "name": person, "gender": "F" if serial % 2 == 0 else "M",
                      "department": "学生处" if kind == SchoolKind.UNIVERSITY else "总务处",
                      "post": "医保协管员", "work_phone": f"020-8766{serial:04d}" if office.city.code == "guangzhou"
                      else f"0512-6982{serial:04d}", "mobile": f"1380000{serial:04d}", "active": True},
        )
        logins.append((username, f"{name} 协管员"))
        year = years[office.city.code]
        students = seed_students(school, spec=spec, year=year, rng=rng, serial=serial)
        student_count += len(students)
        exemptions += seed_exemptions(students, year=year)
        schools.append((school, year))

    for username, role, scope in STAFF:
        user = upsert_user(username, password, staff=True)
        resolved = {}
        if "office" in scope:
            resolved["office"] = Office.objects.get(code=scope["office"])
        if "city" in scope:
            resolved["city"] = City.objects.get(code=scope["city"])
        grant(user, role=role, group=role, **resolved)
        logins.append((username, "区经办人员（越秀）" if role == "district_staff" else f"市经办人员（{resolved['city'].name}）"))

    return {"years": years, "schools": schools, "logins": logins, "students": student_count, "exemptions": exemptions}


def refresh_rosters(schools, stdout) -> None:
    """Let the rules engine build each demo school's roster, if it is installed; the demo works without it."""
    try:
        from enrollment.services.common import Actor, roster_get_or_create
        from enrollment.services.enrollments import enrollments_refresh_bulk
    except ImportError:
        return
    actor = Actor(user=None, source="shell", label="seed_demo")
    for school, year in schools:
        try:
            roster = roster_get_or_create(school=school, insurance_year=year)
            if roster.state != RosterState.OPEN:
                continue  # confirmed on an earlier run (seed_year_changes): frozen, as a school's would be
            enrollments_refresh_bulk(actor=actor, roster=roster)
        except Exception as exc:  # noqa: BLE001 - demo data must not fail on a rules-engine problem
            stdout.write(f"  {school.name}: 名单未生成（{exc.__class__.__name__}）")


def _plain_students(code: str) -> list[Student]:
    """A school's local, urban, fee-paying students below the final grade, in a fixed order (the seeded one)."""
    school = School.objects.get(code=code)
    return list(Student.objects.filter(school=school, hukou_local=True, hukou_rural=False, medical_assistance="",
                                       public_funded_care=False, grade__lt=school.final_grade).order_by("pk"))


def _late_students(year: InsuranceYear) -> list[dict]:
    """Two freshmen admitted late to 苏州示例职业技术学院; their numbers are outside the seeded range (sequence 9xx)."""
    birth = datetime.date(year.coverage_start.year - 18, 3, 12)
    rows = []
    for i, name in enumerate(["沈雨桐", "钱浩然"]):
        born = birth + datetime.timedelta(days=40 * i)
        number = identity.generate(region="320506", birth=born, sequence=902 + i)
        rows.append({"name": name, "identity_number": number, "sex": identity.sex(number), "birth_date": born,
                     "grade": 1, "class_name": "1年级3班", "hukou_local": True})
    return rows


def seed_year_changes(stdout) -> None:
    """What a school year brings after the roster, one of each, for the manual's chapter on changes during the year.

    - 苏州示例职业技术学院 (coord-sz2): roster confirmed, two late students awaiting the supplementary confirmation;
    - 越秀区示例第一中学 (coord-gz1): asks 海珠区示例实验小学 for a student's transfer (pending); one student left;
      one student sent to the village committee is followed up by the district (staff-yuexiu);
    - 苏州示例大学 (coord-sz1): one student insured elsewhere (employee insurance).
    The other rosters stay open, so every step of the yearly cycle can still be tried. Each change is made once:
    a rerun finds it done and leaves it.
    """
    try:
        from enrollment.models import (
            Enrollment,
            OtherChannelEnrollment,
            OtherInsurance,
            OtherScheme,
            Roster,
            StudentStatus,
            Transfer,
        )
        from enrollment.selectors import suspected_graduates
        from enrollment.services.common import Actor
        from enrollment.services.elsewhere import insured_elsewhere_record, other_channel_enrollment_record
        from enrollment.services.leaving import student_leave
        from enrollment.services.rosters import roster_confirm
        from enrollment.services.students import student_create
        from enrollment.services.transfers import transfer_request
    except ImportError:
        return

    users = get_user_model().objects.in_bulk(["coord-gz1", "coord-sz1", "coord-sz2", "staff-yuexiu"], field_name="username")

    def portal(username):
        return Actor(user=users[username], source="portal", label="seed_demo")

    today = timezone.localdate()

    def insured_elsewhere():
        student = _plain_students("DEMO-SZ-U01")[-1]
        if not OtherInsurance.objects.filter(enrollment__student=student).exists():
            insured_elsewhere_record(actor=portal("coord-sz1"), student=student, scheme=OtherScheme.EMPLOYEE,
                                     place="苏州市工业园区", valid_until=datetime.date(today.year + 1, 12, 31),
                                     detail="在职学生，单位参保证明")

    def left():
        student = _plain_students("DEMO-GZ-YX-001")[-1]
        if student.status == StudentStatus.IN_SCHOOL:
            student_leave(actor=portal("coord-gz1"), student=student, status=StudentStatus.LEFT,
                          on=today - datetime.timedelta(days=14))

    def transfer():
        student = _plain_students("DEMO-GZ-HZ-001")[-1]
        if not Transfer.objects.filter(student=student).exists():
            transfer_request(actor=portal("coord-gz1"), to_school=School.objects.get(code="DEMO-GZ-YX-001"),
                             identity_number=student.identity_number, note="随父母工作调动转学，转学手续已办")

    def follow_up():
        sent = (Enrollment.objects.filter(school__code="DEMO-GZ-YX-001", channel="village_committee")
                .order_by("student__pk").first())
        if sent is not None and not OtherChannelEnrollment.objects.filter(enrollment=sent).exists():
            other_channel_enrollment_record(actor=Actor(user=users["staff-yuexiu"], source="admin", label="seed_demo"),
                                            enrollment=sent, enrolled_on=today - datetime.timedelta(days=20),
                                            place="越秀区北京街道某村民委员会")

    def late():
        roster = Roster.objects.select_related("insurance_year").filter(school__code="DEMO-SZ-U02").first()
        if roster is None:
            return
        if not roster.confirmations.exists():
            roster_confirm(actor=portal("coord-sz2"), roster=roster, checked=True,
                           suspected_acknowledged=suspected_graduates(roster=roster).count())
        school = roster.school
        for data in _late_students(roster.insurance_year):
            if not Student.objects.filter(identity_number=data["identity_number"]).exists():
                student_create(actor=portal("coord-sz2"), school=school, data=data)

    steps = [("他处参保", insured_elsewhere), ("离校", left), ("转学申请", transfer), ("其他途径参保跟进", follow_up),
             ("名单确认与迟到学生", late)]
    for label, step in steps:
        try:
            with transaction.atomic():
                step()
        except Exception as exc:  # noqa: BLE001 - demo data must not fail on one change of the year
            stdout.write(f"  学年中的变动（{label}）未生成：{exc.__class__.__name__} {exc}")


class Command(BaseCommand):
    help = "创建演示数据：每个城市一个正在申报缴费期内的参保年度、学校、协管员、经办人员和学生。可重复运行。"

    def add_arguments(self, parser):
        parser.add_argument("--password", default=None, help="所有演示账户的密码（仅限 DEBUG 开发环境）")
        parser.add_argument(
            "--force-demo-data", action="store_true", help="数据库中已有非演示数据时仍写入演示数据（谨慎使用）"
        )

    def handle(self, *args, password, force_demo_data, **options):
        if not force_demo_data and not is_demo_database():
            raise CommandError(
                "数据库中已有非演示的学校或账户，拒绝写入演示数据。确需写入请加 --force-demo-data。"
            )
        if settings.DEBUG:
            password = password or DEFAULT_PASSWORD
            validate_password(password)
        elif password is not None:
            raise CommandError("DEBUG 关闭时不能为演示账户设置已知密码；新账户将获得随机密码。")
        result = seed_demo(password=password, today=timezone.localdate())
        refresh_rosters(result["schools"], self.stdout)
        seed_year_changes(self.stdout)
        out = self.stdout
        out.write(self.style.SUCCESS(f"演示数据已就绪：{len(result['schools'])} 所学校，{result['students']} 名学生，"
                                     f"{result['exemptions']} 条免缴记录。"))
        for year in result["years"].values():
            out.write(f"  {year}：申报缴费期 {year.window_start} 至 {year.window_end}，缴费标准 {year.fee_standard} 元/人")
        out.write("")
        out.write("打开 http://127.0.0.1:8000/ （管理后台：http://127.0.0.1:8000/admin/）")
        if password is not None:
            out.write(f"所有演示账户的密码：{password}")
        else:
            out.write("新建的演示账户使用随机密码（不显示），已有账户的密码未改动；"
                      "请用 python manage.py changepassword <用户名> 设置。未创建超级管理员。")
        for username, role in result["logins"]:
            out.write(f"  {username:<14} {role}")


def _last_graduation() -> datetime.date:
    """The most recent 1 July: the demo's final grades have graduated, so the roster review has suspects to show."""
    today = timezone.localdate()
    this_year = datetime.date(today.year, 7, 1)
    return this_year if this_year <= today else datetime.date(today.year - 1, 7, 1)
