from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from coordinators.forms import CoordinatorForm
from coordinators.models import Coordinator
from coordinators.services.registry import coordinator_register, coordinator_update
from coordinators.views.access import coordinator_required, portal_actor


@coordinator_required
def profile(request):
    """The coordinator's own annex 2 entry; the first save registers them for the school."""
    own = Coordinator.objects.visible_to(request.user).filter(user=request.user).first()
    form = CoordinatorForm(request.POST or None, instance=own)
    if request.method == "POST" and form.is_valid():
        data = {f: form.cleaned_data.get(f) for f in CoordinatorForm.Meta.fields}
        try:
            if own is None:
                coordinator_register(actor=portal_actor(request), school=request.school, data=data, user=request.user)
            else:
                coordinator_update(actor=portal_actor(request), coordinator=own, data=data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("协管员信息已保存。"))
            return redirect("portal:profile")
    colleagues = Coordinator.objects.visible_to(request.user).filter(school=request.school, active=True).exclude(user=request.user)
    history = own.changes.select_related("changed_by")[:20] if own else []
    return render(request, "portal/profile.html", {"form": form, "own": own, "colleagues": colleagues, "history": history})
