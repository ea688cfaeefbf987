"""Starting a job in the admin lands on its progress page, which links to the result when done."""

from django.urls import reverse

from enrollment.models import Job
from tests.billing.conftest import confirm_roster, make_account, make_bank
from tests.factories import login


def _superuser(user):
    user.is_superuser = True
    user.save()
    return user


def test_starting_batch_generation_lands_on_the_job_page_that_links_to_the_batches(world, client, django_capture_on_commit_callbacks):
    bank = make_bank(world.city)
    make_account(world.school, bank)
    confirm_roster(world.school, world.year, world.coordinator, paying=2)
    login(client, _superuser(world.city_staff))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:billing_debitbatch_generate"), {"insurance_year": world.year.pk})

    job = Job.objects.get(kind=Job.Kind.BATCH_GENERATION)
    assert response.status_code == 302 and response["Location"] == reverse("bureau:job", args=[job.pk])
    page = client.get(response["Location"]).content.decode()
    assert "已完成" in page and "不存在" not in page
    assert f'href="{reverse("admin:billing_debitbatch_changelist")}"' in page and "查看扣款批次" in page
    assert "批次数" in page


def test_a_failed_job_page_says_why(world, client):
    job = Job.objects.create(kind=Job.Kind.BATCH_GENERATION, state=Job.State.FAILED, created_by=world.city_staff,
                             error="银行文件格式未配置：工商银行")
    login(client, world.city_staff)
    page = client.get(reverse("bureau:job", args=[job.pk])).content.decode()
    assert "银行文件格式未配置：工商银行" in page


def test_another_staff_member_cannot_open_the_job(world, client):
    job = Job.objects.create(kind=Job.Kind.BATCH_GENERATION, created_by=world.city_staff)
    login(client, world.district_staff)
    assert client.get(reverse("bureau:job", args=[job.pk])).status_code == 404
    assert client.get(reverse("bureau:job_download", args=[job.pk])).status_code == 404
