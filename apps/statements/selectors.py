"""Reads for mandates, statements and approval runs."""

from django.db.models import Prefetch, Q

from apps.accounts.roles import AUDITOR, DCO, EXPERT, has_role
from apps.posts.selectors import gate_closure_current

from .account_states import (  # noqa: F401 - re-exported for callers
    STATE_LABELS,
    AccountState,
    plain_error,
    post_state,
    statement_account_states,
    statements_with_states,
)
from .models import (
    ApprovalRequest,
    ApprovalStatus,
    Decision,
    Mandate,
    Statement,
    StatementPost,
    StatementRevision,
)
from .steps import chain_default, chain_list, step_allows, step_people_ids  # noqa: F401 - re-exported
from .waiting import WaitingItem, awaiting_user, posts_needing_new_approval  # noqa: F401 - re-exported


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


def statements_report(*, crisis) -> dict:
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
    state = post_state(post=post, closure=closure)
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


def crisis_statements(*, crisis, user, limit=50) -> list:
    """The control room's statements block: this crisis's statements, latest first, each with
    `account_states` (render with templates/web/_statement_rows.html)."""
    qs = _statement_base().filter(crisis=crisis).order_by("-updated_at", "-id")[:limit]
    return statements_with_states(statements=qs, user=user)


def statements_timeline_subjects(*, crisis) -> Q:
    """The crisis timeline's statements part (registered with crises.report): every audit entry
    about a statement of this crisis (written, submitted, decided, published, withdrawn)."""
    ids = [str(pk) for pk in Statement.objects.filter(crisis=crisis).values_list("pk", flat=True)]
    return Q(object_type="statements.statement", object_id__in=ids)
