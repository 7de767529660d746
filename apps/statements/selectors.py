"""Reads for mandates, statements and approval runs."""

import re

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts.roles import ADMIN, AUDITOR, DCO, EXPERT, has_role
from apps.crises.selectors import crisis_open
from apps.posts.models import PostStatus
from apps.posts.selectors import gate_closure_current
from apps.posts.selectors import post_state as posts_post_state

from .models import (
    ApprovalRequest,
    ApprovalStatus,
    ChainStep,
    Decision,
    Mandate,
    Statement,
    StatementPost,
    StatementRevision,
    ValidationChain,
)


def mandates_covering(*, user, crisis, at=None) -> list[Mandate]:
    """The user's mandates that are active now (checked at use time) and cover the crisis."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    return [m for m in Mandate.objects.active(at).filter(user=user) if m.covers_topics(crisis.topics)]


def mandate_list(*, user):
    qs = Mandate.objects.select_related("user", "granted_by", "revoked_by").order_by("-valid_from", "-id")
    if has_role(user, DCO, AUDITOR):
        return qs
    return qs.filter(user=user)


def chain_default() -> ValidationChain | None:
    return ValidationChain.objects.filter(is_default=True).first()


def chain_list():
    return ValidationChain.objects.prefetch_related(
        Prefetch("steps", queryset=ChainStep.objects.order_by("order").prefetch_related("users"))
    )


def step_people_ids(step: ChainStep) -> set[int]:
    """Everyone the step names: its explicit people, else every active holder of its role."""
    named = {u.pk for u in step.users.all() if u.is_active}
    if named or not step.role or step.role == ADMIN:  # the user administrator decides nothing
        return named
    return set(
        get_user_model().objects.filter(is_active=True, groups__name=step.role).values_list("pk", flat=True)
    )


def step_allows(step: ChainStep, user) -> bool:
    if not user.is_active:
        return False
    if step.users.exists():
        return step.users.filter(pk=user.pk).exists()
    return bool(step.role) and step.role != ADMIN and has_role(user, step.role)


def _statement_base():
    return Statement.objects.select_related("author", "crisis").prefetch_related(
        "accounts",
        Prefetch(
            "post_links",
            queryset=StatementPost.objects.select_related("post__account", "post__assignee").order_by("pk"),
        ),
        Prefetch(
            "approval_requests",
            queryset=ApprovalRequest.objects.filter(
                status__in=[ApprovalStatus.PENDING, ApprovalStatus.APPROVED]
            ).select_related("current_step", "chain"),
            to_attr="live_requests",
        ),
    )


def statement_list(*, user):
    """DCO, auditors and experts read every statement; others read their own, those they are
    named to review, and those with a post they must publish by hand."""
    qs = _statement_base().order_by("-created_at", "-id")
    if has_role(user, DCO, AUDITOR, EXPERT):
        return qs
    named = ApprovalRequest.objects.filter(chain__steps__users=user).values("statement_id")
    # Whoever must publish one of its posts by hand reads the statement it belongs to.
    publishes = StatementPost.objects.filter(post__assignee=user).values("statement_id")
    return qs.filter(Q(author=user) | Q(pk__in=named) | Q(pk__in=publishes))


def statement_revisions(*, statement):
    return StatementRevision.objects.filter(statement=statement).select_related("author").order_by("number")


def statement_decisions(*, statement):
    return (
        Decision.objects.filter(request__statement=statement)
        .select_related("actor", "step", "revision", "request")
        .order_by("decided_at", "id")
    )


def post_approval_list(*, user):
    qs = ApprovalRequest.objects.filter(kind="post").select_related(
        "chain", "current_step", "post", "requested_by"
    )
    if has_role(user, DCO, AUDITOR, EXPERT):
        return qs
    return qs.filter(Q(chain__steps__users=user) | Q(post__created_by=user)).distinct()


def statements_report(crisis) -> dict:
    """The crisis report's "statements" section: each statement with its revisions, decisions
    and published posts."""
    statements = (
        Statement.objects.filter(crisis=crisis)
        .select_related("author")
        .prefetch_related(
            Prefetch("revisions", queryset=StatementRevision.objects.order_by("number")),
            Prefetch(
                "approval_requests",
                queryset=ApprovalRequest.objects.select_related("chain").prefetch_related(
                    Prefetch(
                        "decisions",
                        queryset=Decision.objects.select_related("actor", "step", "revision").order_by(
                            "decided_at", "id"
                        ),
                    )
                ),
            ),
            Prefetch(
                "post_links",
                queryset=StatementPost.objects.select_related(
                    "post__account", "post__assignee", "revision"
                ).order_by("pk"),
            ),
        )
        .order_by("created_at", "id")
    )
    out = []
    closure = gate_closure_current()
    for s in statements:
        decisions = []
        for req in sorted(s.approval_requests.all(), key=lambda r: (r.created_at, r.pk)):
            for d in req.decisions.all():
                decisions.append(
                    {
                        "request": req.pk,
                        "chain": req.chain.name,
                        "request_status": req.status,
                        "step": d.step.name,
                        "step_order": d.step.order,
                        "revision": d.revision.number if d.revision else None,
                        "actor": d.actor.get_username(),
                        "verdict": d.verdict,
                        "comment": d.comment,
                        "decided_at": d.decided_at.isoformat(),
                    }
                )
        out.append(
            {
                "id": s.pk,
                "author": s.author.get_username(),
                "status": s.status,
                "revision": s.revision,
                "created_at": s.created_at.isoformat(),
                "published_at": s.published_at.isoformat() if s.published_at else None,
                "revisions": [
                    {
                        "number": r.number,
                        "body": r.body,
                        "accounts": r.account_ids,
                        "created_at": r.created_at.isoformat(),
                    }
                    for r in s.revisions.all()
                ],
                "decisions": decisions,
                "posts": [_report_post(link, closure) for link in s.post_links.all()],
            }
        )
    published = sum(1 for s in out if s["status"] == "published")
    publishing = sum(1 for s in out if s["status"] == "publishing")
    return {"count": len(out), "published": published, "publishing": publishing, "statements": out}


def _report_post(link, closure) -> dict:
    """A statement post in the report: the account's state as the statement page shows it (sent
    with its link, to do by hand with whom, failing with the error in plain words)."""
    post = link.post
    state = post_state(post, closure=closure)
    return {
        "id": post.pk,
        "account": str(post.account),
        "revision": link.revision.number,
        "scheduled_at": post.scheduled_at.isoformat(),
        "status": post.status,
        "state": state["state"],
        "state_label": state["label"],
        "url": state["url"],
        "assignee": state["assignee"],
        "error": state["error"],
        "attempts": post.attempts,
        "published_at": post.published_at.isoformat() if post.published_at else None,
        "external_url": state["url"],
    }


# --------------------------------------------------------------------------------------------
# Each account's state once a statement is being published: what went out, what waits for a
# person, what fails. One reading for the API, the pages and the report.


_UNSET = object()


class AccountState:
    NOT_STARTED = "not_started"  # the statement is not being published yet
    SCHEDULED = "scheduled"  # its post waits for its time
    SENDING = "sending"  # claimed by the publisher, on its way
    SENT = "sent"  # out (by the network API or marked published by hand)
    BY_HAND = "by_hand"  # a to-do: a named person publishes it by hand, then says so
    FAILING = "failing"  # the network refused or could not be reached
    CANCELLED = "cancelled"
    HELD = "held"  # anything else the posts app says (frozen, uncertain…): shown by its name


STATE_LABELS = {
    AccountState.NOT_STARTED: gettext_lazy("not published yet"),
    AccountState.SCHEDULED: gettext_lazy("scheduled"),
    AccountState.SENDING: gettext_lazy("sending"),
    AccountState.SENT: gettext_lazy("sent"),
    AccountState.BY_HAND: gettext_lazy("to do by hand"),
    AccountState.FAILING: gettext_lazy("failing"),
    AccountState.CANCELLED: gettext_lazy("cancelled"),
}


def plain_error(raw: str) -> str:
    """The connector's error in words a DCO reads at 2 a.m. (never the reply body, which may
    hold what the network echoes back; the raw text is shown to the DCO only)."""
    text = raw or ""
    lowered = text.lower()
    match = re.search(r"HTTP (\d{3})", text)
    if match:
        code = int(match.group(1))
        if code in (401, 403):
            message = _("The network refused the account's credentials: check its access token.")
        elif code == 404:
            message = _("The network does not know this address: check the account's settings.")
        elif code in (400, 413, 422):
            message = _("The network refused the text.")
        elif code == 429:
            message = _("The network asks us to slow down.")
        elif code >= 500:
            message = _("The network's server failed.")
        else:
            message = _("The network answered with an error.")
        return f"{message} (HTTP {code})"
    if "nameresolution" in lowered or "name or service not known" in lowered or "getaddrinfo" in lowered:
        return _("The network's address could not be found (DNS).")
    if "timeout" in lowered or "timed out" in lowered:
        return _("The network did not answer in time.")
    if "connection" in lowered or "max retries" in lowered:
        return _("The network's server could not be reached.")
    if "assignee" in lowered:
        return _("The person who publishes this account by hand is no longer active.")
    if "unexpected answer" in lowered:
        return _("The network's answer could not be understood.")
    if not text:
        return _("Sending failed.")
    return _("Sending failed; the DCO sees the details.")


def _person(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _safe_url(url: str) -> str:
    # Only http(s) ever becomes a link (a connector reply could say javascript:…).
    return url if (url or "").lower().startswith(("http://", "https://")) else ""


def post_state(post, *, user=None, closure=_UNSET) -> dict:
    """One statement post as its account's state, with what `user` may do about it. `closure`:
    the gate closure in force (read once by the caller for many posts)."""
    is_dco = user is not None and has_role(user, DCO)
    # The status a person sees (`frozen` is derived by the posts app: a later crisis holds back
    # a post exempt only for an earlier one).
    status = posts_post_state(post) if closure is _UNSET else posts_post_state(post, closure)
    retrying = False
    if status == PostStatus.PUBLISHED:
        state = AccountState.SENT
    elif status == PostStatus.PUBLISHING and post.assignee_id:
        state = AccountState.BY_HAND
    elif status == PostStatus.PUBLISHING and post.last_error:
        state, retrying = AccountState.FAILING, True
    elif status == PostStatus.PUBLISHING:
        state = AccountState.SENDING
    elif status == PostStatus.FAILED:
        state = AccountState.FAILING
    elif status == PostStatus.SCHEDULED:
        state = AccountState.SCHEDULED
    elif status == PostStatus.CANCELLED:
        state = AccountState.CANCELLED
    else:
        state = AccountState.HELD
    failing = state == AccountState.FAILING
    return {
        "account_id": post.account_id,
        "account": str(post.account),
        "network": post.account.network,
        "post": post.pk,
        "state": state,
        "label": str(STATE_LABELS.get(state) or PostStatus(status).label),
        "post_status": status,
        "scheduled_at": post.scheduled_at,
        "published_at": post.published_at,
        "url": _safe_url(post.external_url) if state == AccountState.SENT else "",
        "assignee": _person(post.assignee) if state == AccountState.BY_HAND else "",
        "assignee_id": post.assignee_id if state == AccountState.BY_HAND else None,
        "error": plain_error(post.last_error) if failing else "",
        # The raw reply may echo back what the network received: DCO only.
        "error_detail": post.last_error if failing and is_dco else "",
        "attempts": post.attempts,
        "retrying": retrying,
        "can_mark_published": state == AccountState.BY_HAND
        and user is not None
        and (is_dco or post.assignee_id == user.pk),
        # A post still retrying by itself is left to the publisher; a failed one is the DCO's.
        "can_retry": failing and not retrying and is_dco,
        "can_publish_by_hand": failing and is_dco,
    }


def statement_account_states(statement, *, user=None, closure=_UNSET) -> list[dict]:
    """Each chosen account's state, in account order. Uses prefetched post_links when present
    (see _statement_base), so a list of statements costs no query per row."""
    links = sorted(statement.post_links.all(), key=lambda link: link.pk)
    posts = {link.post.account_id: link.post for link in links}  # the latest post per account
    if posts and closure is _UNSET:
        closure = gate_closure_current()
    out = []
    for account in sorted(statement.accounts.all(), key=lambda a: a.pk):
        post = posts.pop(account.pk, None)
        if post is None:
            out.append(
                {
                    "account_id": account.pk,
                    "account": str(account),
                    "network": account.network,
                    "post": None,
                    "state": AccountState.NOT_STARTED,
                    "label": str(STATE_LABELS[AccountState.NOT_STARTED]),
                }
            )
        else:
            out.append(post_state(post, user=user, closure=closure))
    # Posts on an account no longer chosen (edited after publishing is refused, but be truthful).
    out += [post_state(p, user=user, closure=closure) for p in posts.values()]
    return out


def crisis_statements(crisis, *, user, limit=50) -> list:
    """The control room's statements block: this crisis's statements, latest first, each with
    `account_states` (render with templates/web/_statement_rows.html)."""
    qs = _statement_base().filter(crisis=crisis).order_by("-updated_at", "-id")[:limit]
    return statements_with_states(qs, user=user)


def statements_with_states(statements, *, user) -> list:
    """Attach `account_states` to each statement (for templates: web/_statement_rows.html)."""
    rows = list(statements)
    closure = gate_closure_current()
    for s in rows:
        s.account_states = (
            statement_account_states(s, user=user, closure=closure) if s.post_links.all() else []
        )
    return rows


# --------------------------------------------------------------------------------------------
# What waits for a person: the approvals page, and the home page's "what waits for me"


def _reviewable_runs(user, kind):
    """Pending runs of `kind` whose current step `user` may decide (not their own text, not a
    second step of one run for the same person)."""
    runs = (
        ApprovalRequest.objects.filter(kind=kind, status=ApprovalStatus.PENDING, current_step__isnull=False)
        .select_related("current_step", "chain", "statement", "post__account")
        .prefetch_related("current_step__users")
        .order_by("created_at", "pk")
    )
    decided = {}
    for request_id, step_id in Decision.objects.filter(
        actor=user, request__status=ApprovalStatus.PENDING, request__kind=kind
    ).values_list("request_id", "step_id"):
        decided.setdefault(request_id, set()).add(step_id)
    is_role = {}
    out = []
    for run in runs:
        step = run.current_step
        author_id = run.statement.author_id if kind == "statement" else run.post.created_by_id
        if author_id == user.pk or run.pk in decided:
            continue  # own text; or already decided a step of this run (this one or another)
        named = [u.pk for u in step.users.all()]
        if named:
            allowed = user.pk in named
        else:
            if step.role not in is_role:
                is_role[step.role] = bool(step.role) and step.role != ADMIN and has_role(user, step.role)
            allowed = is_role[step.role]
        if allowed:
            out.append(run)
    return out


class WaitingItem(dict):
    """One thing waiting for a person: a dict {kind, title, url, detail, since, object_id}; for
    the decision kinds, also the object itself as `.statement` / `.post` (for callers that read
    the object rather than the dict)."""

    statement = None
    post = None


def _item(*, statement=None, post=None, **fields) -> WaitingItem:
    item = WaitingItem(**fields)
    item.statement, item.post = statement, post
    return item


def awaiting_user(user) -> list[WaitingItem]:
    """Everything waiting for `user`, oldest first. Each item: {kind, title, detail, url, since,
    object_id}. kinds: `statement_step` (decide a statement's step), `post_step` (decide a held
    calendar post), `statement_by_hand` / `post_by_hand` (publish a post by hand, then say so),
    and for a DCO `statement_failing` (a statement post the network refused: retry or publish by
    hand), `statement_new_time` / `post_new_time` (approved after its time: give a new one),
    `post_voided` (a held post changed after approval: ask for approval again).

    The items have the shape of apps.web.selectors.waiting_for's (kind, title, url, detail), so
    a page can list them as they are; the approvals page (apps/web/views/approvals.py) does."""
    from django.urls import reverse

    from apps.posts.models import Post

    if user is None or not user.is_authenticated or not user.is_active:
        return []
    items = []
    for run in _reviewable_runs(user, "statement"):
        items.append(
            _item(
                statement=run.statement,
                kind="statement_step",
                title=_("Statement #%(id)s awaits your decision (step “%(step)s”)")
                % {"id": run.statement_id, "step": run.current_step.name},
                detail=_short(run.statement.body),
                url=reverse("web:statement", args=[run.statement_id]),
                since=run.created_at,
                object_id=run.statement_id,
            )
        )
    for run in _reviewable_runs(user, "post"):
        items.append(
            _item(
                post=run.post,
                kind="post_step",
                title=_("A post on %(account)s awaits your decision (step “%(step)s”)")
                % {"account": run.post.account, "step": run.current_step.name},
                detail=_short(run.post.body),
                url=reverse("web:approvals") + f"#run-{run.pk}",
                since=run.created_at,
                object_id=run.pk,
            )
        )
    todo = (
        Post.objects.filter(assignee=user, status=PostStatus.PUBLISHING)
        .select_related("account", "statement_link")
        .order_by("claimed_at", "pk")
    )
    for post in todo:
        link = getattr(post, "statement_link", None)
        items.append(
            WaitingItem(
                {
                    "kind": "statement_by_hand" if link else "post_by_hand",
                    "title": _("Publish on %(account)s by hand, then say so") % {"account": post.account},
                    "detail": _short(post.body),
                    "url": reverse("web:statement", args=[link.statement_id])
                    if link
                    else reverse("web:inbox"),
                    "since": post.claimed_at or post.updated_at,
                    "object_id": link.statement_id if link else post.pk,
                }
            )
        )
    if has_role(user, DCO):
        current = crisis_open()
        failing = (
            Post.objects.filter(statement_link__statement__crisis=current)
            .filter(
                Q(status=PostStatus.FAILED)
                | Q(status=PostStatus.PUBLISHING, assignee__isnull=True) & ~Q(last_error="")
            )
            .select_related("account", "statement_link")
            .order_by("updated_at", "pk")
        )
        for post in failing:
            items.append(
                WaitingItem(
                    {
                        "kind": "statement_failing",
                        "title": _("Statement #%(id)s: %(account)s fails")
                        % {"id": post.statement_link.statement_id, "account": post.account},
                        "detail": plain_error(post.last_error),
                        "url": reverse("web:statement", args=[post.statement_link.statement_id]),
                        "since": post.updated_at,
                        "object_id": post.statement_link.statement_id,
                    }
                )
            )
        now = timezone.now()
        in_force = Statement.objects.filter(crisis=current, status="approved", planned_at__lte=now)
        for s in in_force.order_by("updated_at"):
            items.append(
                WaitingItem(
                    {
                        "kind": "statement_new_time",
                        "title": _("Statement #%(id)s was approved after its planned time: give it a new one")
                        % {"id": s.pk},
                        "detail": _short(s.body),
                        "url": reverse("web:statement", args=[s.pk]),
                        "since": s.updated_at,
                        "object_id": s.pk,
                    }
                )
            )
        held = (
            ApprovalRequest.objects.filter(
                kind="post", status=ApprovalStatus.APPROVED, needs_new_time=True, post__awaiting_approval=True
            )
            .select_related("post__account")
            .order_by("finished_at")
        )
        for run in held:
            items.append(
                WaitingItem(
                    {
                        "kind": "post_new_time",
                        "title": _("A post on %(account)s was approved after its time: give it a new one")
                        % {"account": run.post.account},
                        "detail": _short(run.post.body),
                        "url": reverse("web:approvals") + f"#run-{run.pk}",
                        "since": run.finished_at or run.created_at,
                        "object_id": run.pk,
                    }
                )
            )
        for run in posts_needing_new_approval():
            items.append(
                WaitingItem(
                    {
                        "kind": "post_voided",
                        "title": _("A post on %(account)s changed after approval: ask for approval again")
                        % {"account": run.post.account},
                        "detail": _short(run.post.body),
                        "url": reverse("web:approvals") + f"#run-{run.pk}",
                        "since": run.finished_at or run.created_at,
                        "object_id": run.pk,
                    }
                )
            )
    items.sort(key=lambda item: item["since"] or timezone.now())
    return items


def posts_needing_new_approval() -> list[ApprovalRequest]:
    """Held posts whose latest run was voided by an edit and that nobody asked about again."""
    from apps.posts.models import Post

    held = Post.objects.filter(awaiting_approval=True, status__in=[PostStatus.SCHEDULED, PostStatus.FROZEN])
    runs = (
        ApprovalRequest.objects.filter(kind="post", post__in=held)
        .select_related("post__account")
        .order_by("post_id", "-created_at", "-pk")
    )
    latest = {}
    for run in runs:
        latest.setdefault(run.post_id, run)
    return [run for run in latest.values() if run.status == ApprovalStatus.VOIDED]


def _short(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= 100 else text[:97] + "…"
