from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.models import AuditEntry
from apps.notifications.selectors import notice_figures
from apps.posts.connectors import get_connector
from apps.posts.models import Post, PostStatus
from apps.posts.selectors import posts_frozen_by, posts_sent_between, retraction_window_start

from .checklist import checklist_items
from .models import Crisis, CrisisStatus, Decision, EndKind, PostDecision
from .report import report_sections


def crisis_open() -> Crisis | None:
    """The crisis in force (active, or lifting but not yet closed), if any."""
    return Crisis.objects.filter(is_open=True).first()


def crisis_active() -> Crisis | None:
    return Crisis.objects.filter(is_open=True, status=CrisisStatus.ACTIVE).first()


def crisis_list() -> QuerySet[Crisis]:
    return Crisis.objects.select_related("declared_by", "end_requested_by", "end_approved_by").order_by(
        "-declared_at"
    )


def crisis_for_closure(closure) -> Crisis | None:
    if closure is None:
        return None
    return Crisis.objects.filter(gate_closure=closure).first()


def crisis_checklist(crisis: Crisis) -> list[dict]:
    """[{code, label, confirmed}]: the resumption checklist and what the lift request confirmed."""
    confirmed = crisis.checklist_confirmed or {}
    return [{**item, "confirmed": item["code"] in confirmed} for item in checklist_items()]


def crisis_posts(crisis: Crisis) -> QuerySet[Post]:
    """Every post this crisis froze (still frozen by it, or decided in its review)."""
    return (
        Post.objects.filter(
            Q(frozen_by_id=crisis.gate_closure_id)
            | Q(pk__in=PostDecision.objects.filter(crisis=crisis).values("post"))
        )
        .select_related("account")
        .order_by("scheduled_at", "id")
    )


def crisis_review_posts(crisis: Crisis) -> QuerySet[Post]:
    """The crisis's posts, each annotated with its review decision (one query)."""
    decision = PostDecision.objects.filter(crisis=crisis, post=OuterRef("pk"))
    return crisis_posts(crisis).annotate(
        decision=Subquery(decision.values("decision")[:1]),
        decision_scheduled_at=Subquery(decision.values("scheduled_at")[:1]),
        decision_publish_now=Subquery(decision.values("publish_now")[:1]),
    )


def crisis_undecided_posts(crisis: Crisis) -> QuerySet[Post]:
    return (
        crisis_posts(crisis)
        .filter(status="frozen")
        .exclude(pk__in=PostDecision.objects.filter(crisis=crisis).values("post"))
    )


TIMELINE_NOTIFICATION_ACTIONS = ("notification.record", "notification.remind")


def crisis_timeline(crisis: Crisis) -> list[dict]:
    """The crisis's own audit entries, its gate's, and its notification rounds, in order."""
    entries = AuditEntry.objects.filter(
        Q(object_type="crises.crisis", object_id=str(crisis.pk))
        | Q(object_type="posts.gateclosure", object_id=str(crisis.gate_closure_id))
        # Event-level notification entries (not the one-per-person acknowledgements).
        | Q(action__in=TIMELINE_NOTIFICATION_ACTIONS, details__crisis=crisis.pk)
    ).order_by("sequence")
    return [
        {
            "sequence": e.sequence,
            "at": e.created_at.isoformat(),
            "action": e.action,
            "actor": e.actor_repr,
            "details": e.details,
        }
        for e in entries
    ]


def crisis_retraction_candidates(crisis: Crisis) -> list[dict]:
    """Non-exempt posts that reached a network in the window before the declaration."""
    out = []
    for post in posts_sent_between(retraction_window_start(crisis.declared_at), crisis.declared_at):
        can = get_connector(post.account.connector).can_retract and bool(post.external_id)
        out.append(
            {
                "post": post.pk,
                "account": post.account_id,
                "network": post.account.network,
                "handle": post.account.handle,
                "body": post.body,
                "published_at": post.published_at.isoformat(),
                "external_id": post.external_id,
                "external_url": post.external_url,
                "retracted_at": post.retracted_at.isoformat() if post.retracted_at else None,
                "actions": (
                    [{"name": "retract", "method": "POST", "url": f"/api/v1/posts/{post.pk}/retract/"}]
                    if can and not post.retracted_at
                    else []
                ),
            }
        )
    return out


def _iso(value):
    return value.isoformat() if value else None


def crisis_report(crisis: Crisis) -> dict:
    """Timeline, every frozen post and its fate, retraction candidates, notification figures,
    and every section other apps registered (e.g. statements)."""
    decisions = {
        d.post_id: d
        for d in PostDecision.objects.filter(crisis=crisis).select_related("decided_by").order_by("post_id")
    }
    posts, fates = [], {}
    for p in crisis_posts(crisis).values(
        "id", "account_id", "account__network", "account__handle", "scheduled_at", "status"
    ):
        d = decisions.get(p["id"])
        fate = d.decision if d else "undecided"
        fates[fate] = fates.get(fate, 0) + 1
        posts.append(
            {
                "post": p["id"],
                "account": p["account_id"],
                "network": p["account__network"],
                "handle": p["account__handle"],
                "scheduled_at": _iso(p["scheduled_at"]),
                "status": p["status"],
                "decision": d.decision if d else None,
                "new_scheduled_at": _iso(d.scheduled_at) if d else None,
                "publish_now": d.publish_now if d else False,
                "decided_by": d.decided_by.get_username() if d else None,
                "decided_at": _iso(d.decided_at) if d else None,
            }
        )
    report = {
        "crisis": {
            "id": crisis.pk,
            "title": crisis.title,
            "severity": crisis.severity,
            "topics": crisis.topics,
            "status": crisis.status,
            "declared_by": crisis.declared_by.get_username(),
            "declared_at": _iso(crisis.declared_at),
            "freeze_until": _iso(crisis.freeze_until),
            "closed_at": _iso(crisis.closed_at),
            "end_kind": crisis.end_kind or None,
            "end_requested_by": crisis.end_requested_by.get_username() if crisis.end_requested_by else None,
            "end_requested_at": _iso(crisis.end_requested_at),
            "end_comment": crisis.end_comment,
            "end_approved_by": crisis.end_approved_by.get_username() if crisis.end_approved_by else None,
            "checklist": crisis_checklist(crisis),
        },
        "timeline": crisis_timeline(crisis),
        "posts": {"total": len(posts), "by_fate": fates, "items": posts},
        "retraction_candidates": crisis_retraction_candidates(crisis),
        "notifications": notice_figures(crisis_id=crisis.pk),
    }
    for name, fn in report_sections().items():
        report[name] = fn(crisis)
    return report


def crisis_end_blockers(crisis, *, kind=EndKind.LIFT, now=None) -> list[tuple[str, str]]:
    """Why the crisis cannot end (lift or stand-down) now, as (code, message), first reason
    first; the checklist is confirmed with the request itself."""
    now = now or timezone.now()
    reasons = []
    if kind == EndKind.LIFT and now < crisis.freeze_until:
        reasons.append(
            (
                "freeze_in_force",
                _("The freeze lasts until %(until)s.") % {"until": crisis.freeze_until.isoformat()},
            )
        )
    frozen = posts_frozen_by(crisis.gate_closure)
    decisions = PostDecision.objects.filter(crisis=crisis)
    undecided = frozen.exclude(pk__in=decisions.values("post"))
    if kind == EndKind.STAND_DOWN:
        # Standing down puts undecided posts back as they were, unless their time has passed.
        undecided = undecided.filter(scheduled_at__lte=now)
    n = undecided.count()
    if n:
        reasons.append(
            (
                "undecided_posts",
                _("%(n)d frozen post(s) have no decision yet (release, reschedule or cancel).") % {"n": n},
            )
        )
    late = list(
        frozen.filter(
            pk__in=decisions.filter(decision=Decision.RELEASE, publish_now=False).values("post"),
            scheduled_at__lte=now,
        ).values_list("pk", flat=True)[:20]
    ) + list(
        decisions.filter(
            decision=Decision.RESCHEDULE, scheduled_at__lte=now, post__status=PostStatus.FROZEN
        ).values_list("post_id", flat=True)[:20]
    )
    if late:
        reasons.append(
            (
                "time_passed",
                _("The time of post(s) %(ids)s has passed: give them a new time or publish them now.")
                % {"ids": ", ".join(map(str, sorted(late)))},
            )
        )
    return reasons
