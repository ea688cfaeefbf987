"""Portal pages for bureau notices (R18): the list, one notice, marking read."""

from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from coordinators.models import Notice
from coordinators.selectors_notices import notices_for, unread_for
from coordinators.services import notices as service
from coordinators.views.access import coordinator_required


@coordinator_required
def notice_list(request):
    notices = list(notices_for(request.user)[:200])
    unread = set(unread_for(request.user).values_list("pk", flat=True))
    return render(request, "portal/notices/list.html", {
        "notices": [(notice, notice.pk in unread) for notice in notices], "unread_count": len(unread),
    })


@coordinator_required
def notice_detail(request, pk):
    # Only notices addressed to the coordinator's school: anything else is a 404.
    notice = get_object_or_404(notices_for(request.user), pk=pk)
    # Opening a notice is reading it; the button stays for marking without opening (the list).
    service.mark_read(user=request.user, notice=notice)
    return render(request, "portal/notices/detail.html", {"notice": notice, "read": True})


@coordinator_required
@require_POST
def notice_mark_read(request, pk):
    notice = get_object_or_404(notices_for(request.user), pk=pk)
    try:
        service.mark_read(user=request.user, notice=notice)
    except Notice.DoesNotExist as exc:
        raise Http404 from exc
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "portal:notices"
    return redirect(target)


@coordinator_required
@require_POST
def notice_mark_all_read(request):
    service.mark_all_read(user=request.user)
    return redirect("portal:notices")
