"""Citizen cards in the portal (R14): who still needs a card, photo uploads, pickup."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from coordinators.views.access import coordinator_required, portal_actor
from enrollment.models import CitizenCard, School, Student
from enrollment.services import cards as service


@coordinator_required
def card_list(request):
    school = request.school
    waiting = list(service.students_needing_card(schools=School.objects.filter(pk=school.pk)))
    cards = {card.student_id: card for card in CitizenCard.objects.visible_to(request.user).filter(student__in=waiting)}
    # Cards already with the card office are followed in the production table below.
    rows = [
        (student, cards.get(student.pk)) for student in waiting
        if student.pk not in cards or cards[student.pk].state in service.PHOTO_CHANGEABLE
    ]
    in_production = (
        CitizenCard.objects.visible_to(request.user)
        .filter(student__school=school, state__in=[CitizenCard.State.SENT, CitizenCard.State.READY])
        .select_related("student")
        .order_by("state", "student__grade", "student__class_name", "student__name")
    )
    return render(request, "portal/cards/list.html", {
        "rows": rows,
        "missing": sum(1 for _s, card in rows if card is None or not card.photo),
        "in_production": in_production,
        "max_mb": service.PHOTO_MAX_BYTES // 1024 // 1024,
    })


@coordinator_required
@require_POST
def card_photo_upload(request, student_id):
    student = get_object_or_404(Student.objects.visible_to(request.user).filter(school=request.school), pk=student_id)
    upload = request.FILES.get("photo")
    if upload is None:
        messages.error(request, _("请选择照片文件。"))
        return redirect("portal:cards")
    try:
        service.card_photo_upload(actor=portal_actor(request), student=student, upload=upload)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("%(name)s的照片已上传。") % {"name": student.name})
    return redirect("portal:cards")


@coordinator_required
@require_POST
def card_photos_zip(request):
    upload = request.FILES.get("archive")
    if upload is None:
        messages.error(request, _("请选择ZIP压缩包。"))
        return redirect("portal:cards")
    try:
        result = service.card_photos_upload_zip(actor=portal_actor(request), school=request.school, upload=upload)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("portal:cards")
    if result.errors:
        messages.error(request, _("压缩包中有错误，未保存任何照片，请修改后重新上传："))
        for message in result.errors[:50]:
            messages.error(request, message)
    else:
        messages.success(request, _("已上传%(n)d张照片。") % {"n": result.stored})
    return redirect("portal:cards")


@coordinator_required
@require_POST
def card_picked_up(request, pk):
    card = get_object_or_404(CitizenCard.objects.visible_to(request.user).filter(student__school=request.school), pk=pk)
    try:
        service.card_mark_picked_up(actor=portal_actor(request), card=card)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("已登记%(name)s领取市民卡。") % {"name": card.student.name})
    return redirect("portal:cards")


@login_required
def card_photo(request, pk):
    """The stored photo, for the school's coordinators and the bureau staff over that school only."""
    card = get_object_or_404(CitizenCard.objects.visible_to(request.user), pk=pk)
    if not card.photo:
        raise Http404
    response = FileResponse(card.photo.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response
