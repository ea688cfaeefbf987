"""Walking the site's URLs: enumerate patterns, build each URL for school A's objects, classify answers."""

import fnmatch
from dataclasses import dataclass

from django.contrib import admin
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse


@dataclass(frozen=True)
class Pattern:
    key: str  # the URL name with namespace, or the route of an unnamed pattern
    route: str


def patterns() -> list[Pattern]:
    """Every pattern of the root URLconf, named ones once (format-suffix variants share the name)."""
    found: dict[str, Pattern] = {}

    def walk(resolver, prefix, namespace):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                ns = namespace
                if entry.namespace:
                    ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                walk(entry, prefix + str(entry.pattern), ns)
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                if entry.name:
                    key = f"{namespace}:{entry.name}" if namespace else entry.name
                else:
                    key = route
                found.setdefault(key, Pattern(key, route))

    walk(get_resolver(), "", None)
    return sorted(found.values(), key=lambda p: p.key)


def admin_models() -> list[tuple[str, type]]:
    """(``app_model`` URL prefix, model) of every model registered with the admin site."""
    return sorted(
        ((f"{m._meta.app_label}_{m._meta.model_name}", m) for m in admin.site._registry), key=lambda item: item[0]
    )


def match(rules, key: str):
    """The first rule whose name pattern matches ``key`` (exact names before wildcards)."""
    for rule in rules:
        if rule.name == key:
            return rule
    for rule in rules:
        if any(ch in rule.name for ch in "*?[") and fnmatch.fnmatchcase(key, rule.name):
            return rule
    return None


def matches(rules, key: str) -> list:
    """Every rule named ``key`` (one per method, e.g. GET and POST of one URL), else the first wildcard rule."""
    exact = [rule for rule in rules if rule.name == key]
    if exact:
        return exact
    found = match(rules, key)
    return [found] if found is not None else []


def classify(response, *, login_urls: tuple[str, ...], admin_index: str) -> str:
    """What a persona would notice: ok, login, unauth, denied, hidden, method or error."""
    code = response.status_code
    if code in (301, 302, 303, 307, 308):
        location = response.get("Location", "")
        path = location.split("?", 1)[0]
        if any(path.endswith(url) for url in login_urls):
            return "login"
        # The admin answers an object outside the user's queryset with a redirect to its index.
        if path.endswith(admin_index):
            return "hidden"
        return "ok"
    if code == 401:
        return "unauth"
    if code == 403:
        return "denied"
    if code == 404:
        return "hidden"
    if code == 405:
        return "method"
    if code >= 500:
        return "error"
    # 2xx, and 400/409/410: the request reached the view's own rules, so access was granted.
    return "ok"


def call(client, method: str, url: str):
    """One request whose writes are rolled back, so a POST by one persona does not change the next one's world."""
    with transaction.atomic():
        if method == "POST":
            response = client.post(url, {})
        elif method == "PATCH":
            response = client.patch(url, {}, content_type="application/json")
        else:
            response = client.get(url)
        if hasattr(response, "streaming_content"):
            body = b"".join(response.streaming_content)
        else:
            body = response.content
        transaction.set_rollback(True)
    return response, body


def admin_url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)
