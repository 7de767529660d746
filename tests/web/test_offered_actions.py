"""Every page, every role: each button a page offers is an action the service allows that person
on that object, and every form that changes something says which action it is.

Pages mark each action `data-action="<action>"` inside an element `data-object="<app.model>:<pk>"`
(the object the action is about); the services answer `*_allowed_actions(user=…, <object>=…)`
(one rule, one place: apps/statements/actions.py, apps/crises, apps/posts, apps/watch, apps/policy).
The walk finds the pages itself from the URL configuration, so a new page is walked too. For the
control room and the statement page the other way round holds as well: every action the service
allows there is offered.
"""

from collections import defaultdict
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from apps.posts import services as post_services
from apps.statements import services as statement_services
from tests.web.helpers import declare, default_chain, make_account, make_posts, run_notice_worker

pytestmark = pytest.mark.django_db

ROLES = ("dco", "admin", "spokesperson", "expert", "employee", "auditor")
# Pages outside the walk: the admin and the API have their own rights tests (tests/security);
# the signed acknowledgement link is a token, not an id; login/logout/language are not actions.
SKIPPED_PREFIXES = ("/admin/", "/api/", "/oidc/", "/i18n/", "/static/", "/healthz", "/notices/ack/")
# Forms that change nothing the services own: signing out, the language, signing in, the
# pre-check's own "check this text" (a read).
UNMARKED_FORM_TARGETS = {"/logout/", "/i18n/setlang/", "/login/", "/precheck/"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Actions(HTMLParser):
    """Collects (action, object) pairs and the POST forms without any action marker."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, object ref or None, form record or None)
        self.offered = []  # (action, object_ref)
        self.forms = []  # {"target": str, "marked": bool}

    def _object(self):
        for _tag, ref, _form in reversed(self.stack):
            if ref:
                return ref
        return None

    def _form(self):
        for tag, _ref, form in reversed(self.stack):
            if tag == "form":
                return form
        return None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        form = None
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            form = {"target": attrs.get("action") or "", "marked": False}
            self.forms.append(form)
        ref = attrs.get("data-object")
        if tag not in VOID_TAGS:
            self.stack.append((tag, ref, form))
        action = attrs.get("data-action")
        if action:
            self.offered.append((action, ref or self._object()))
            enclosing = form or self._form()
            if enclosing is not None:
                enclosing["marked"] = True

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return


def _pages(resolver=None, prefix=""):
    """(url name, route pattern, argument names) for every page of the site."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{entry.namespace}:" if entry.namespace else ""
            for name, route, args in _pages(entry, prefix + str(entry.pattern)):
                yield (namespace + name if name else None), route, args
        elif isinstance(entry, URLPattern) and entry.name:
            yield entry.name, prefix + str(entry.pattern), tuple(entry.pattern.converters)


def _allowed(user, ref, scene) -> frozenset[str]:
    """What the services allow `user` on the object `ref` ("app.model:pk"; None: the page)."""
    from apps.policy.services import policy_allowed_actions
    from apps.statements.actions import (
        approval_allowed_actions,
        mandate_allowed_actions,
        statement_allowed_actions,
        statements_page_actions,
    )
    from apps.statements.models import ApprovalRequest, Mandate, Statement

    if ref is None:  # an action about no existing object: the apps' page-level answers
        return (
            policy_allowed_actions(user=user)
            | statements_page_actions(user=user)
            | scene["page_answers"](user)
        )
    label, _, pk = ref.partition(":")
    answers = {
        "statements.mandate": lambda: mandate_allowed_actions(user=user, mandate=Mandate.objects.get(pk=pk)),
        "statements.statement": lambda: statement_allowed_actions(
            user=user, statement=Statement.objects.get(pk=pk)
        ),
        "statements.approvalrequest": lambda: approval_allowed_actions(
            user=user, request=ApprovalRequest.objects.select_related("post").get(pk=pk)
        ),
    }
    answers.update(scene["extra_answers"](user, label, pk))
    if label not in answers:
        raise AssertionError(f"a page marks an object no service answers for: {ref}")
    return answers[label]()


@pytest.fixture
def scene(make_user, dco, dco2, outbound_allow_loopback):
    people = {"dco": dco, "dco2": dco2}
    for role in ROLES[1:]:
        people[role] = make_user(role, username=f"walk-{role}")
    default_chain()
    account = make_account(dco)
    posts = make_posts(dco, account, n=3)
    awaiting = statement_services.post_approval_request(actor=dco, post=posts[0])
    # Posts handed to the employee to publish by hand (the inbox's "I published it"): one before
    # the declaration, which the crisis then holds, and one exempt for the crisis.
    by_hand = post_services.social_account_create(
        actor=dco,
        network="tiktok",
        handle="@agency-by-hand",
        connector="manual",
        config={"assignee": people["employee"].username},
    )
    held = _handed_over(actor=dco, account=by_hand)
    crisis = declare(dco)
    handed = _handed_over(actor=dco, account=by_hand, exempt=crisis)
    run_notice_worker()  # everyone's inbox holds the declaration's notice, to acknowledge
    statement_services.mandate_grant(
        actor=dco,
        user=people["spokesperson"],
        topics=["launch"],
        networks=[],
        valid_from=timezone.now() - timedelta(minutes=1),
        valid_until=timezone.now() + timedelta(days=3),
    )
    draft = statement_services.statement_create(
        actor=people["spokesperson"], crisis=crisis, body="We are looking into it.", accounts=[account]
    )
    in_review = statement_services.statement_create(
        actor=people["spokesperson"], crisis=crisis, body="Launch delayed; all safe.", accounts=[account]
    )
    statement_services.statement_submit(actor=people["spokesperson"], statement=in_review)
    from apps.watch import services as watch_services
    from apps.watch.models import Sighting

    lab = watch_services.watched_account_create(
        actor=dco,
        network="linkedin",
        kind="unwatchable",
        url="https://www.linkedin.com/company/agency-lab",
        owners=[people["employee"]],
    )
    proposed = watch_services.watched_account_propose(
        actor=people["employee"],
        network="linkedin",
        kind="unwatchable",
        url="https://www.linkedin.com/in/walk-employee",
    )
    # A sighting as the sweep records it (the sweep itself is tested against loopback fakes).
    seen = Sighting.objects.create(
        account=lab,
        crisis=crisis,
        post_id="1",
        url="https://www.linkedin.com/posts/1",
        text="Our take on the launch",
        published_at=timezone.now(),
        kind="post",
        verdict="blocked",
    )
    mandate = statement_services.mandate_grant(
        actor=dco,
        user=people["expert"],
        topics=["launch"],
        networks=[],
        valid_from=timezone.now() - timedelta(minutes=1),
        valid_until=timezone.now() + timedelta(days=1),
    )
    ids = {
        "mandate_id": [mandate.pk],
        "account_id": [lab.pk, proposed.pk],
        "sighting_id": [seen.pk],
        "crisis_id": [crisis.pk],
        "statement_id": [draft.pk, in_review.pk],
        "post_id": [p.pk for p in posts] + [held.pk, handed.pk],
        "approval_id": [awaiting.pk],
    }
    return {
        "people": people,
        "ids": ids,
        "crisis": crisis,
        "extra_answers": _extra_answers,
        "page_answers": _page_answers,
    }


def _handed_over(*, actor, account, exempt=False):
    """A post the publisher handed to the account's assignee (manual connector), as its round
    does."""
    from apps.posts.models import PostStatus

    post = post_services.post_create(
        actor=actor, account=account, body="To publish by hand", publish_now=True, exempt=exempt
    )
    for post_id in post_services.posts_claim_due():
        post_services.post_send(post_id=post_id)
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHING and post.assignee_id, post.status
    return post


def _extra_answers(user, label, pk):
    """The services of the other apps (crises, posts, notifications, watch)."""
    from apps.crises.actions import crisis_allowed_actions
    from apps.crises.models import Crisis
    from apps.notifications.models import Notice, NoticeEvent
    from apps.notifications.services import notice_allowed_actions, notice_event_allowed_actions
    from apps.posts.models import Post
    from apps.posts.services import post_allowed_actions
    from apps.watch.models import Sighting, WatchedAccount
    from apps.watch.services import sighting_allowed_actions, watched_account_allowed_actions
    from apps.web.selectors import post_page_actions

    return {
        "crises.crisis": lambda: crisis_allowed_actions(
            user=user, crisis=None if pk == "new" else Crisis.objects.get(pk=pk)
        ),
        # The calendar's post page offers the posts' actions and the statements' "hold it for a
        # validation chain": both services answer (apps.web.selectors.post_page_actions).
        "posts.post": lambda: (
            post_allowed_actions(user=user)
            if pk == "new"
            else post_page_actions(user=user, post=Post.objects.get(pk=pk))
        ),
        "notifications.notice": lambda: notice_allowed_actions(user=user, notice=Notice.objects.get(pk=pk)),
        "notifications.noticeevent": lambda: notice_event_allowed_actions(
            user=user, event=NoticeEvent.objects.get(pk=pk)
        ),
        "watch.watchedaccount": lambda: watched_account_allowed_actions(
            user=user, account=WatchedAccount.objects.get(pk=pk)
        ),
        "watch.sighting": lambda: sighting_allowed_actions(user=user, sighting=Sighting.objects.get(pk=pk)),
    }


def _page_answers(user):
    from apps.watch.services import watch_page_actions

    return watch_page_actions(user=user)


def _urls(ids):
    urls, skipped = [], []
    for name, route, args in _pages():
        if any(("/" + route).startswith(prefix) for prefix in SKIPPED_PREFIXES):
            continue
        if not all(arg in ids for arg in args):
            skipped.append(name)
            continue
        choices = [{}]
        for arg in args:
            choices = [{**c, arg: value} for c in choices for value in ids[arg]]
        for kwargs in choices:
            urls.append(reverse(name, kwargs=kwargs))
    return urls, skipped


def test_every_offered_action_is_allowed_and_every_changing_form_is_marked(client, scene):
    """Mutations, each -> this test fails: the statement page offering `statement.publish` to
    anyone (its `{% if %}` made `{% if True %}`): a publish button the service refuses; the
    inbox's acknowledge form without its data-action: "unmarked form"; the "remind them now"
    button shown without asking notice_event_allowed_actions: the auditor is offered it; the
    inbox's "I published it" offered without asking post_allowed_actions (its `{% if %}` made
    `{% if True %}`): the employee is offered post.publish on the hand-over the crisis holds;
    that form without its data-action: "unmarked form"."""
    urls, skipped = _urls(scene["ids"])
    print("not walked (no id for their arguments):", skipped)
    assert "web:control" in {n for n, _r, _a in _pages()}
    problems, walked = [], defaultdict(int)
    for role, user in scene["people"].items():
        client.force_login(user)
        for url in urls:
            response = client.get(url)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            walked[role] += 1
            page = _Actions()
            page.feed(response.content.decode())
            for action, ref in page.offered:
                if action not in _allowed(user, ref, scene):
                    problems.append(f"{role} on {url}: offered {action} on {ref or 'the page'}, not allowed")
            for form in page.forms:
                target = form["target"] or url  # no action: the form posts to its page
                if not form["marked"] and target not in UNMARKED_FORM_TARGETS:
                    problems.append(f"{role} on {url}: unmarked form posting to {target}")
    assert walked["dco"] >= 10, walked
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_inbox_offers_i_published_it_where_the_posts_service_allows_it(client, scene):
    """The other way round on the inbox: the hand-over exempt for the crisis gets "I published
    it", the one the crisis holds is listed, held, without it.
    Mutation: the inbox view listing posts_manual_todo without frozen=True -> the held hand-over
    is not shown -> this test fails."""
    employee = scene["people"]["employee"]
    held, handed = scene["ids"]["post_id"][-2:]
    client.force_login(employee)
    response = client.get("/inbox/")
    page = _Actions()
    page.feed(response.content.decode())
    assert [(a, ref) for a, ref in page.offered if a == "post.publish"] == [
        ("post.publish", f"posts.post:{handed}")
    ]
    assert sorted(p.pk for p in response.context["todo"]) == sorted([held, handed])


@pytest.mark.parametrize("role", ["dco", "dco2", "spokesperson", "expert", "employee"])
def test_the_statement_page_offers_every_action_the_service_allows(client, scene, role):
    """The other way round on the statement page: nothing the service allows is missing.
    Mutation: the submit form removed from statement_detail.html -> the author's draft page
    lacks statement.submit -> this test fails."""
    from apps.statements.actions import statement_allowed_actions
    from apps.statements.models import Statement

    user = scene["people"][role]
    client.force_login(user)
    for pk in scene["ids"]["statement_id"]:
        statement = Statement.objects.get(pk=pk)
        page = _Actions()
        page.feed(client.get(f"/statements/{pk}/").content.decode())
        offered = {action for action, ref in page.offered if ref == f"statements.statement:{pk}"}
        allowed = statement_allowed_actions(user=user, statement=statement)
        assert allowed <= offered, (role, statement.status, allowed - offered)


@pytest.mark.parametrize("role", ["dco", "dco2", "auditor", "employee"])
def test_the_control_room_offers_every_action_the_service_allows(client, scene, role):
    """The other way round in the control room: every crisis action the service allows is there
    (the per-post decisions, `crisis.decide`, on the review page the control room links to).
    Mutation: the extend form's data-action removed from control.html (as if the form were gone)
    -> the DCO's control room lacks crisis.extend -> this test fails."""
    from apps.crises.actions import crisis_allowed_actions

    user = scene["people"][role]
    crisis = scene["crisis"]
    client.force_login(user)
    allowed = crisis_allowed_actions(user=user, crisis=crisis)
    offered = set()
    for url in ("/control/", f"/control/crises/{crisis.pk}/review/"):
        response = client.get(url)
        if response.status_code != 200:
            continue
        page = _Actions()
        page.feed(response.content.decode())
        offered |= {action for action, ref in page.offered if ref == f"crises.crisis:{crisis.pk}"}
    assert allowed <= offered, (role, allowed - offered)
