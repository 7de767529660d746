"""The review of frozen posts: each one's fate (release, reschedule, cancel), applied when the
crisis ends. A changed decision withdraws a pending lift or stand-down."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError, ServiceError
from apps.core.roles import DCO, require_role
from apps.posts.models import Post
from apps.posts.selectors import post_is_frozen
from apps.posts.services import local_time

from .common import aware, crisis_check_change, locked
from .ending import withdraw_end_request
from .models import PostDecision, PostFate
from .selectors import crisis_matching_posts


def _check_decision(*, crisis, post, decision, scheduled_at, publish_now, now):
    """Validate one decision; returns (scheduled_at, publish_now) cleaned."""
    if decision not in PostFate.values:
        raise ServiceError(_("The decision is release, reschedule or cancel."), field="decision")
    if not post_is_frozen(post=post, closure=crisis.gate_closure if crisis.gate_closure.is_current else None):
        raise ConflictError(_("This post is not frozen by this crisis."), field="post", code="not_frozen")
    publish_now = bool(publish_now)
    if decision == PostFate.RESCHEDULE:
        if scheduled_at is None:
            raise ServiceError(_("Rescheduling needs a new time."), field="scheduled_at")
        scheduled_at = aware(value=scheduled_at, field="scheduled_at")
        if scheduled_at <= now:
            raise ServiceError(
                _("The new time (%(at)s) must be in the future.") % {"at": local_time(value=scheduled_at)},
                field="scheduled_at",
            )
        if publish_now:
            raise ServiceError(_("Reschedule or publish now, not both."), field="publish_now")
    elif scheduled_at is not None:
        raise ServiceError(_("Only a reschedule takes a new time."), field="scheduled_at")
    if decision == PostFate.RELEASE and post.scheduled_at <= now and not publish_now:
        raise ConflictError(
            _(
                "This post's time (%(at)s) passed during the freeze: reschedule it, or release it "
                "with publish_now."
            )
            % {"at": local_time(value=post.scheduled_at)},
            field="decision",
            code="time_passed",
        )
    if decision == PostFate.CANCEL and publish_now:
        raise ServiceError(_("A cancelled post is not published."), field="publish_now")
    return scheduled_at, publish_now


def _open_for_decisions(actor, crisis):
    require_role(actor, DCO)
    crisis = locked(crisis=crisis)
    crisis_check_change(actor=actor, crisis=crisis)
    return crisis


@transaction.atomic
def crisis_decide_post(
    *, actor, crisis, post, decision, scheduled_at=None, publish_now=False
) -> PostDecision:
    """Decide the fate of one frozen post (applied when the crisis ends): release (keeps its
    time; if that time passed during the freeze, only with publish_now), reschedule (a new
    future time) or cancel. Changing a decision while a lift is pending withdraws the request."""
    crisis = _open_for_decisions(actor, crisis)
    post = Post.objects.filter(pk=getattr(post, "pk", post)).first()
    if post is None:
        raise ServiceError(_("Unknown post."), field="post")
    now = timezone.now()
    scheduled_at, publish_now = _check_decision(
        crisis=crisis,
        post=post,
        decision=decision,
        scheduled_at=scheduled_at,
        publish_now=publish_now,
        now=now,
    )
    row, _created = PostDecision.objects.update_or_create(
        crisis=crisis,
        post=post,
        defaults={
            "decision": decision,
            "scheduled_at": scheduled_at,
            "publish_now": publish_now,
            "decided_by": actor,
            "decided_at": now,
        },
    )
    audit_record(
        actor=actor,
        action="crisis.decide",
        obj=crisis,
        details={
            "post": post.pk,
            "decision": decision,
            "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
            "publish_now": publish_now,
        },
    )
    withdraw_end_request(crisis=crisis, actor=actor, why="decision changed")
    return row


@transaction.atomic
def crisis_decide_posts(*, actor, crisis, decisions: list[dict]) -> list[PostDecision]:
    """Several decisions in one transaction (all or none): [{post, decision, scheduled_at?,
    publish_now?}, …]. An error names the item (`decisions[3].post`)."""
    crisis = _open_for_decisions(actor, crisis)
    if not isinstance(decisions, list) or not decisions:
        raise ServiceError(_("Give a list of decisions."), field="decisions")
    now = timezone.now()
    posts = Post.objects.in_bulk([getattr(d.get("post"), "pk", d.get("post")) for d in decisions])
    rows = []
    for index, item in enumerate(decisions):
        post = posts.get(getattr(item.get("post"), "pk", item.get("post")))
        if post is None:
            raise ServiceError(_("Unknown post."), field=f"decisions[{index}].post")
        try:
            scheduled_at, publish_now = _check_decision(
                crisis=crisis,
                post=post,
                decision=item.get("decision"),
                scheduled_at=item.get("scheduled_at"),
                publish_now=item.get("publish_now", False),
                now=now,
            )
        except ServiceError as exc:
            exc.field = f"decisions[{index}].{exc.field or 'post'}"
            raise
        rows.append(
            PostDecision(
                crisis=crisis,
                post=post,
                decision=item["decision"],
                scheduled_at=scheduled_at,
                publish_now=publish_now,
                decided_by=actor,
                decided_at=now,
            )
        )
    saved = _upsert_decisions(rows)
    audit_record(
        actor=actor,
        action="crisis.decide_many",
        obj=crisis,
        details={"count": len(saved), "posts": [r.post_id for r in saved][:1000]},
    )
    withdraw_end_request(crisis=crisis, actor=actor, why="decision changed")
    return saved


def _upsert_decisions(rows):
    return PostDecision.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["crisis", "post"],
        update_fields=["decision", "scheduled_at", "publish_now", "decided_by", "decided_at"],
    )


@transaction.atomic
def crisis_decide_matching(
    *,
    actor,
    crisis,
    decision,
    account=None,
    network=None,
    scheduled_from=None,
    scheduled_to=None,
    scheduled_at=None,
    publish_now=False,
) -> int:
    """One decision for every post this crisis holds frozen that matches the filter (account,
    network, scheduled time range), in one transaction, audited once with the count. A release
    of a post whose time has passed needs publish_now, as one by one: the whole call is refused
    naming the first such post. Returns how many posts were decided."""
    crisis = _open_for_decisions(actor, crisis)
    if decision not in PostFate.values:
        raise ServiceError(_("The decision is release, reschedule or cancel."), field="decision")
    matching = crisis_matching_posts(
        crisis=crisis,
        account=account,
        network=network,
        scheduled_from=aware(value=scheduled_from, field="scheduled_from")
        if scheduled_from is not None
        else None,
        scheduled_to=aware(value=scheduled_to, field="scheduled_to") if scheduled_to is not None else None,
    )
    now = timezone.now()
    rows = []
    for post in matching.only("id", "status", "scheduled_at", "exempt_closure_id"):
        cleaned_at, cleaned_now = _check_decision(
            crisis=crisis,
            post=post,
            decision=decision,
            scheduled_at=scheduled_at,
            publish_now=publish_now,
            now=now,
        )
        rows.append(
            PostDecision(
                crisis=crisis,
                post=post,
                decision=decision,
                scheduled_at=cleaned_at,
                publish_now=cleaned_now,
                decided_by=actor,
                decided_at=now,
            )
        )
    if not rows:
        return 0
    _upsert_decisions(rows)
    audit_record(
        actor=actor,
        action="crisis.decide_matching",
        obj=crisis,
        details={
            "decision": decision,
            "count": len(rows),
            "filter": {
                "account": getattr(account, "pk", account),
                "network": network,
                "scheduled_from": scheduled_from.isoformat() if scheduled_from else None,
                "scheduled_to": scheduled_to.isoformat() if scheduled_to else None,
            },
            "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
            "publish_now": bool(publish_now),
        },
    )
    withdraw_end_request(crisis=crisis, actor=actor, why="decision changed")
    return len(rows)
