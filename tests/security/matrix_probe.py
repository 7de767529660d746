"""Shared by the authorisation matrix test: every URL of the URL configuration, how to call it,
and what the answer means (allowed past the rights check, refused, asked to sign in)."""

import re

from django.urls import URLPattern, URLResolver, get_resolver

ROLE_CALLERS = ("dco", "admin", "spokesperson", "expert", "employee", "auditor")
CALLERS = ("anonymous", *ROLE_CALLERS)
MISSING_ID = "987654"
PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


def walk(resolver=None, prefix="", namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from walk(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield prefix + str(pattern.pattern), name, pattern.callback


def concrete_path(route: str) -> str:
    """A path for the route with every parameter filled by an id that does not exist."""
    path = route.replace("^", "").replace("$", "").replace("\\.", ".")
    path = PARAM.sub(
        lambda m: "abc" if (m.group("name") or m.group("rname")) == "token" else MISSING_ID, path
    )
    path = path.replace("(?P<code>[a-z0-9_.]+)", "no_such_rule")
    return "/" + path


def methods_of(callback) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route
        return sorted(m.upper() for m in actions)
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is not None:
        return sorted(m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m))
    return ["GET", "POST"]  # a function view: what a browser can send
