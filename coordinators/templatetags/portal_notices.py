"""``{% unread_notices as notices %}``: the portal home's unread bureau notices for the signed-in coordinator."""

from django import template

from coordinators.selectors_notices import unread_for

register = template.Library()

HOME_LIMIT = 5


@register.simple_tag(takes_context=True)
def unread_notices(context, limit: int = HOME_LIMIT):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"items": [], "count": 0}
    unread = unread_for(user)
    return {"items": list(unread[:limit]), "count": unread.count()}
