"""What waits for a person: the approvals page, and the home page's "what waits for me"."""

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.roles import DCO, has_role
from apps.core.errors import ServiceError
from apps.crises.selectors import crisis_open
from apps.posts.models import PostStatus

from .account_states import plain_error
from .chain import run_check_decide
from .models import (
    ApprovalRequest,
    ApprovalStatus,
    Statement,
)

# --------------------------------------------------------------------------------------------
# What waits for a person: the approvals page, and the home page's "what waits for me"


def _reviewable_runs(*, user, kind):
    """Pending runs of `kind` whose current step `user` may decide: the decision's own check
    (chain.run_check_decide), so this list, the pages' buttons and the service agree."""
    runs = (
        ApprovalRequest.objects.filter(kind=kind, status=ApprovalStatus.PENDING, current_step__isnull=False)
        .select_related("current_step", "chain", "statement", "post__account")
        .prefetch_related("current_step__users")
        .order_by("created_at", "pk")
    )
    out = []
    for run in runs:
        author_id = run.statement.author_id if kind == "statement" else run.post.created_by_id
        try:
            run_check_decide(actor=user, run=run, author_id=author_id)
        except ServiceError:
            continue
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


def awaiting_user(*, user) -> list[WaitingItem]:
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
    for run in _reviewable_runs(user=user, kind="statement"):
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
    for run in _reviewable_runs(user=user, kind="post"):
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
