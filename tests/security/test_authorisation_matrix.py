"""The authorisation matrix, generated from the URL configuration: every API endpoint and page,
by anonymous and by each role, against a declarative table of who passes the rights check.

- A URL name with no row (a new endpoint, a new page) fails `test_every_url_has_a_row`; a row
  whose URL is gone fails it too.
- Allowed: the answer is anything but 401/403 (and, for pages, not the sign-in redirect) and no
  5xx — ids in paths do not exist, so an allowed caller typically gets 404 or 400.
- Refused: 403. Anonymous: 401 on the API, the sign-in redirect on pages — unless PUBLIC.
- Object-level rights (whose statement, whose notice) are not visible with missing ids: those rows
  say EVERYONE and their apps' tests cover the objects.

The Django admin's own URLs follow one rule (ADMIN_RULE): only staff (dco, admin) get past its
login; tests/accounts/test_admin.py covers what each of them sees there.
"""

import pytest
from django.test import Client
from knox.models import AuthToken

from tests.security.matrix_probe import CALLERS, ROLE_CALLERS, concrete_path, walk

EVERYONE = frozenset(ROLE_CALLERS)
NOBODY = frozenset()
PUBLIC = "public"  # anonymous passes too


def roles(*names):
    return frozenset(names)


DCO = roles("dco")
DCO_AUDITOR = roles("dco", "auditor")
STATEMENT_PAGES = roles("dco", "spokesperson", "expert", "auditor")


def public(allowed=EVERYONE):
    return (allowed, PUBLIC)


# URL name -> {method: allowed roles, or (allowed roles, PUBLIC)}
MATRIX = {
    # accounts
    "api-token": {"POST": public()},
    "api-logout": {"POST": EVERYONE},
    "api-logout-all": {"POST": EVERYONE},
    "user-list": {"GET": EVERYONE},  # everyone lists; employees see only themselves
    "user-me": {"GET": EVERYONE},
    "user-detail": {"GET": EVERYONE},
    "user-roles": {"POST": roles("admin")},  # separation of duties: never the dco
    "oidc_authentication_init": {"GET": public()},
    "oidc_authentication_callback": {"GET": public()},
    "oidc_logout": {"POST": public()},
    "login": {"GET": public(), "POST": public()},
    "logout": {"POST": public()},
    # audit
    "audit-list": {"GET": DCO_AUDITOR},
    "audit-verify": {"GET": DCO_AUDITOR},
    "audit-detail": {"GET": DCO_AUDITOR},
    # posts
    "social-account-list": {"GET": DCO_AUDITOR, "POST": DCO},
    "social-account-detail": {"GET": DCO_AUDITOR, "PATCH": DCO, "PUT": DCO},
    "post-list": {"GET": DCO_AUDITOR, "POST": DCO},
    "post-todo": {"GET": EVERYONE},
    "post-detail": {"GET": DCO_AUDITOR, "PATCH": DCO, "PUT": DCO},
    "post-cancel": {"POST": DCO},
    "post-mark-published": {"POST": EVERYONE},  # the assignee's own manual posts
    "post-retract": {"POST": DCO},
    "gate": {"GET": EVERYONE},
    # crises
    "crisis-list": {"GET": DCO_AUDITOR, "POST": DCO},
    "crisis-detail": {"GET": DCO_AUDITOR},
    "crisis-approve-lift": {"POST": DCO},
    "crisis-decisions": {"GET": DCO_AUDITOR, "POST": DCO},
    "crisis-extend": {"POST": DCO},
    "crisis-lift": {"POST": DCO},
    "crisis-report": {"GET": DCO_AUDITOR},
    "crisis-stand-down": {"POST": DCO},
    # notifications
    "notice-list": {"GET": EVERYONE},  # one's own notices
    "notice-figures": {"GET": DCO_AUDITOR},
    "notice-pending": {"GET": DCO_AUDITOR},
    "notice-pending-csv": {"GET": DCO_AUDITOR},
    "notice-remind": {"POST": DCO},
    "notice-detail": {"GET": EVERYONE},
    "notice-acknowledge": {"POST": EVERYONE},
    "team-webhook-list": {"GET": DCO, "POST": DCO},
    "team-webhook-detail": {"GET": DCO, "PATCH": DCO, "PUT": DCO, "DELETE": DCO},
    "notices:ack": {"GET": public(), "POST": public()},  # the signed one-click link
    # statements
    "mandate-list": {"GET": EVERYONE, "POST": DCO},
    "mandate-detail": {"GET": EVERYONE},
    "mandate-revoke": {"POST": DCO},
    "statement-list": {"GET": EVERYONE, "POST": EVERYONE},  # spokespersons with a mandate, checked on input
    "statement-detail": {"GET": EVERYONE, "PATCH": EVERYONE, "PUT": EVERYONE},
    "statement-approve": {"POST": EVERYONE},
    "statement-by-hand": {"POST": EVERYONE},
    "statement-decisions": {"GET": EVERYONE},
    "statement-mark-published": {"POST": EVERYONE},
    "statement-publish": {"POST": EVERYONE},
    "statement-reject": {"POST": EVERYONE},
    "statement-request-changes": {"POST": EVERYONE},
    "statement-retry": {"POST": EVERYONE},
    "statement-revisions": {"GET": EVERYONE},
    "statement-submit": {"POST": EVERYONE},
    "statement-withdraw": {"POST": EVERYONE},
    "validation-chain-list": {"GET": EVERYONE},
    "validation-chain-detail": {"GET": EVERYONE},
    # Requiring and releasing: the dco's alone, refused before the body is read (mutation:
    # PostApprovalViewSet.get_permissions removed -> the others get 400 -> these rows fail).
    "post-approval-list": {"GET": EVERYONE, "POST": DCO},
    "post-approval-detail": {"GET": EVERYONE},
    "post-approval-approve": {"POST": EVERYONE},
    "post-approval-reject": {"POST": EVERYONE},
    "post-approval-release": {"POST": DCO},
    "post-approval-request-changes": {"POST": EVERYONE},
    # policy
    "precheck-api": {"POST": EVERYONE},
    "precheck-figures-api": {"GET": DCO_AUDITOR},
    "embargo-list": {"GET": DCO, "POST": DCO},
    "embargo-detail": {"GET": DCO, "PATCH": DCO, "PUT": DCO, "DELETE": DCO},
    "policy-rule-list": {"GET": EVERYONE},
    "policy-rule-preview": {"POST": DCO},
    "policy-rule-detail": {"GET": EVERYONE, "PATCH": DCO},
    "ruling-list": {"GET": DCO_AUDITOR, "POST": DCO},
    "ruling-export": {"GET": DCO_AUDITOR},
    "ruling-detail": {"GET": DCO_AUDITOR, "DELETE": DCO},
    "precheck": {"GET": EVERYONE, "POST": EVERYONE},
    "policy-rulings": {"GET": DCO_AUDITOR},
    "policy-ruling-record": {"POST": DCO},
    "policy-figures": {"GET": DCO_AUDITOR},
    # watch
    "watched-account-list": {"GET": EVERYONE, "POST": EVERYONE},  # anyone proposes an account
    "watched-account-detail": {"GET": EVERYONE, "PATCH": DCO, "PUT": DCO},
    "watched-account-accept": {"POST": DCO},
    "watched-account-reject": {"POST": DCO},
    "sighting-list": {"GET": EVERYONE},
    "sighting-detail": {"GET": EVERYONE},
    "sighting-review": {"POST": DCO},
    "watch:registry": {"GET": DCO_AUDITOR, "POST": DCO},
    "watch:mine": {"GET": EVERYONE, "POST": EVERYONE},
    "watch:decide": {"POST": DCO},
    "watch:active": {"POST": DCO},
    "watch:import": {"POST": DCO},
    "watch:sightings": {"GET": DCO_AUDITOR},
    "watch:review": {"GET": DCO, "POST": DCO},
    # the service
    "healthz": {"GET": public()},
    "schema": {"GET": public()},
    "api-docs": {"GET": public()},
    "api-redoc": {"GET": public()},
    "set_language": {"POST": public()},
    # web pages
    "web:home": {"GET": public()},
    "web:inbox": {"GET": EVERYONE},
    "web:inbox-ack": {"POST": EVERYONE},
    "web:todo-published": {"POST": EVERYONE},
    "web:control": {"GET": DCO_AUDITOR},
    "web:declare": {"GET": DCO_AUDITOR, "POST": DCO},
    "web:extend": {"POST": DCO},
    "web:review": {"GET": DCO_AUDITOR},
    "web:decisions": {"POST": DCO},
    "web:decide-matching": {"POST": DCO},
    "web:lift": {"POST": DCO},
    "web:stand-down": {"POST": DCO},
    "web:approve-lift": {"POST": DCO},
    "web:figures": {"GET": DCO_AUDITOR},
    "web:report": {"GET": DCO_AUDITOR},
    "web:not-acknowledged": {"GET": DCO_AUDITOR},
    "web:not-acknowledged-csv": {"GET": DCO_AUDITOR},
    "web:remind-now": {"POST": DCO},
    "web:retract": {"POST": DCO},
    "web:calendar": {"GET": DCO_AUDITOR},
    "web:post-new": {"GET": DCO, "POST": DCO},  # an auditor reads the calendar, creates nothing
    "web:post-edit": {"GET": DCO_AUDITOR, "POST": DCO},
    "web:post-require-approval": {"POST": DCO},
    "web:approvals": {"GET": EVERYONE},  # each sees what waits for them
    "web:approval-decide": {"POST": EVERYONE},
    "web:approval-release": {"POST": DCO},
    "web:audit": {"GET": DCO_AUDITOR},
    "web:mandates": {"GET": DCO_AUDITOR},
    "web:mandate-revoke": {"POST": DCO},
    "web:statements": {"GET": STATEMENT_PAGES},
    "web:statement-new": {"GET": STATEMENT_PAGES, "POST": STATEMENT_PAGES},
    "web:statement": {"GET": STATEMENT_PAGES},
    "web:statement-revise": {"POST": STATEMENT_PAGES},
    "web:statement-submit": {"POST": STATEMENT_PAGES},
    "web:statement-decide": {"POST": STATEMENT_PAGES},
    "web:statement-publish": {"POST": STATEMENT_PAGES},
    "web:statement-withdraw": {"POST": STATEMENT_PAGES},
    "web:statement-post-mark-published": {"POST": STATEMENT_PAGES},
    "web:statement-post-retry": {"POST": STATEMENT_PAGES},
    "web:statement-post-by-hand": {"POST": STATEMENT_PAGES},
}

# Every admin URL: only staff get past the admin's login (GET of its list pages is tried).
ADMIN_RULE = roles("dco", "admin")


def _routes():
    return [(route, name) for route, name, _cb in walk()]


def test_every_url_has_a_row():
    """Mutation: a new path() added to any urls.py without its MATRIX row -> this test fails."""
    names = {name for _route, name in _routes() if not (name or "").startswith("admin:")}
    missing = sorted(str(n) for n in names - set(MATRIX))
    stale = sorted(set(MATRIX) - names)
    assert not missing, f"URL names without a row in MATRIX: {missing}"
    assert not stale, f"MATRIX rows whose URL is gone: {stale}"


def _call(client, method, path, headers):
    if method == "GET":
        return client.get(path, **headers)
    return client.generic(method, path, "{}", content_type="application/json", **headers)


def _verdict(path, caller, response) -> str:
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    to_login = status == 302 and "/login/" in response.get("Location", "")
    if status in (401, 403) or (to_login and caller == "anonymous"):
        return "refused"
    if to_login:
        return f"sent to sign in ({status})"
    return "allowed"


@pytest.mark.django_db
def test_every_endpoint_and_page_answers_each_caller_as_declared(make_user, settings):
    """Mutation: role_permission(AUDITOR, DCO) on the audit API widened to any user, or a
    page's role check removed -> that row's refused callers get 200 -> this test fails."""
    users = {role: make_user(role, username=f"matrix-{role}") for role in ROLE_CALLERS}
    routes = {name: route for route, name in _routes()}
    mismatches = []
    for name, methods in MATRIX.items():
        path = concrete_path(routes[name])
        api = path.startswith("/api/")
        for method, rule in methods.items():
            allowed, anon_public = rule if isinstance(rule, tuple) else (rule, None)
            for caller in CALLERS:
                client, headers = Client(), {}
                if caller != "anonymous":
                    if api:  # a fresh token: logout rows revoke theirs
                        headers["HTTP_AUTHORIZATION"] = (
                            f"Token {AuthToken.objects.create(user=users[caller])[1]}"
                        )
                    else:
                        client.force_login(users[caller])
                response = _call(client, method, path, headers)
                got = _verdict(path, caller, response)
                if caller == "anonymous":
                    expected = "allowed" if anon_public else "refused"
                    if not anon_public and api and response.status_code != 401:
                        got = f"{response.status_code} (anonymous on the API must get 401)"
                else:
                    expected = "allowed" if caller in allowed else "refused"
                    if expected == "refused" and got == "refused" and response.status_code != 403:
                        got = f"{response.status_code} (a signed-in caller is refused with 403)"
                if got != expected:
                    mismatches.append(f"{name} {method} {path} as {caller}: expected {expected}, got {got}")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


@pytest.mark.django_db
def test_the_admin_lets_in_only_staff(make_user):
    users = {role: make_user(role, username=f"matrix-{role}") for role in ROLE_CALLERS}
    lists = [
        route
        for route, name in _routes()
        if (name or "").startswith("admin:") and name.endswith("_changelist")
    ]
    assert len(lists) > 10
    wrong = []
    # The index and the most sensitive lists (people, the trail, crises, statements, notices).
    sample = [
        r for r in lists if any(k in r for k in ("auth/user", "auditentry", "crisis", "statement/", "notice"))
    ]
    for route in ["", *sample]:
        path = concrete_path(route) if route else "/admin/"
        for caller in CALLERS:
            client = Client()
            if caller != "anonymous":
                client.force_login(users[caller])
            response = client.get(path)
            let_in = response.status_code != 302 or "/admin/login/" not in response.get("Location", "")
            if response.status_code >= 500 or let_in != (caller in ADMIN_RULE):
                wrong.append(f"{path} as {caller}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
