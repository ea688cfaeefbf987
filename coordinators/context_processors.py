"""What every page of the portal needs in its frame, whichever app renders it."""

from django.utils.functional import SimpleLazyObject

from coordinators.views.access import school_of


def portal_school(request):
    """The coordinator's school, so every portal page shows the navigation.

    Pages of billing and graduates render the same frame but are not behind ``coordinator_required``, so
    ``request.school`` is not set there; the membership decides, read only when a template asks.
    """
    school = getattr(request, "school", None)
    if school is not None:
        return {"portal_school": school}
    user = getattr(request, "user", None)
    return {"portal_school": SimpleLazyObject(lambda: school_of(user)) if user is not None else None}
