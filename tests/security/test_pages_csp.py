"""A Content-Security-Policy on every page (django-csp) with no inline script, and the API docs
(Swagger UI, Redoc) served from the service itself so that /api/docs/ works offline."""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings

ROOT = Path(__file__).resolve().parents[2]


def _policy(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/", "/login/", "/admin/login/", "/api/docs/", "/api/redoc/", "/api/v1/gate/", "/healthz", "/nowhere/"],
)
def test_every_response_carries_a_policy_without_inline_script(client, path):
    """Mutation: csp.middleware.CSPMiddleware removed from MIDDLEWARE (or 'unsafe-inline' added
    to script-src) -> this test fails."""
    policy = _policy(client.get(path))
    assert policy.get("script-src") == ["'self'"], policy
    assert policy.get("default-src") == ["'self'"]
    assert policy.get("object-src") == ["'none'"] and policy.get("frame-ancestors") == ["'none'"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_load_only_the_services_own_files(client, path):
    """Mutation: SWAGGER_UI_DIST / REDOC_DIST back to the CDN defaults -> the page points at
    https://cdn.jsdelivr.net -> this test fails."""
    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html[:500]
    for source in sources:
        assert source.startswith("/"), f"{path} loads {source} from elsewhere"
        if (
            source.startswith(django_settings.STATIC_URL)
            or source.startswith("/static/")
            or source.startswith("/api/")
        ):
            assert client.get(source.split("?")[0]).status_code == 200, source
    # No inline script: every <script> has a src.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> in " + path


def test_no_template_carries_inline_script_or_event_handlers():
    """The policy forbids them: they would not run. (Templates are the web helper's; this keeps
    them honest.)"""
    offenders = []
    for template in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("apps/*/templates/**/*.html")]:
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text):
            offenders.append(str(template.relative_to(ROOT)))
    assert not offenders, offenders
