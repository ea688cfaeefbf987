"""``{% portal_nav %}``: the portal's navigation, rendered once per process and language.

It is on every portal page and the same for every coordinator: sixteen URL
reversals and as many translations, about half a millisecond of each request's
CPU when rendered each time. What it depends on is in the memo's key: the
language, the URL configuration and script prefix (which links exist and
where they point) and whether the page is the home page (its link is marked
active). Off with DEBUG, so an edited template shows at once in development.
"""

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language

register = template.Library()

NAV_TEMPLATE = "portal/_nav.html"
_rendered: dict[tuple, str] = {}


@register.simple_tag(takes_context=True)
def portal_nav(context):
    request = context.get("request")
    path = getattr(request, "path", "")
    if settings.DEBUG:
        return get_template(NAV_TEMPLATE).render({"request": request})
    try:
        on_home = path == reverse("portal:home")
    except NoReverseMatch:
        on_home = False
    key = (get_language(), get_urlconf() or settings.ROOT_URLCONF, get_script_prefix(), on_home)
    html = _rendered.get(key)
    if html is None:
        # What the template reads of the request is only whether it is the home page.
        html = _rendered[key] = get_template(NAV_TEMPLATE).render({"request": request})
    return html
