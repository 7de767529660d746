from datetime import timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.models import AuditEntry
from apps.notifications.selectors import COUNTED_WITH_STAFF_NOTICE, notice_figures
from apps.posts.connectors import get_connector
from apps.posts.models import Post, PostStatus
from apps.posts.selectors import (
    frozen_q,
    posts_frozen,
    posts_reached_network,
    retraction_window_start,
    with_state,
)
from apps.posts.services import local_time

from .checklist import checklist_items
from .models import Crisis, CrisisStatus, EndKind, PostDecision, PostFate
from .report import report_sections, timeline_subjects


def crisis_open() -> Crisis | None:
    """The crisis in force (active, or lifting but not yet closed), if any."""
    return Crisis.objects.filter(is_open=True).first()


def crisis_active() -> Crisis | None:
    return Crisis.objects.filter(is_open=True, status=CrisisStatus.ACTIVE).first()


def crisis_list() -> QuerySet[Crisis]:
    return Crisis.objects.select_related(
        "declared_by", "end_requested_by", "end_approved_by", "gate_closure"
    ).order_by("-declared_at")


def crisis_for_closure(*, closure) -> Crisis | None:
    if closure is None:
        return None
    return Crisis.objects.filter(gate_closure=closure).first()


def crisis_checklist(*, crisis: Crisis) -> list[dict]:
    """[{code, label, confirmed}]: the resumption checklist and what the lift request confirmed."""
    confirmed = crisis.checklist_confirmed or {}
    return [{**item, "confirmed": item["code"] in confirmed} for item in checklist_items()]


def _closure_if_open(crisis):
    """The crisis's closure while it holds the gate closed, else None (then nothing is frozen)."""
    return crisis.gate_closure if crisis.is_open and crisis.gate_closure.is_current else None


def crisis_frozen_posts(*, crisis: Crisis) -> QuerySet[Post]:
    """What this crisis holds back now (nothing once it is over)."""
    return posts_frozen(closure=_closure_if_open(crisis))


def crisis_matching_posts(
    *, crisis: Crisis, account=None, network=None, scheduled_from=None, scheduled_to=None
) -> QuerySet[Post]:
    """The posts this crisis holds frozen now matching an account, a network and a scheduled
    range (inclusive), decided or not: what "decide all matching" decides (the service) and what
    the review page counts before it is asked."""
    posts = crisis_frozen_posts(crisis=crisis)
    if account is not None:
        posts = posts.filter(account=account)
    if network:
        posts = posts.filter(account__network=network)
    if scheduled_from is not None:
        posts = posts.filter(scheduled_at__gte=scheduled_from)
    if scheduled_to is not None:
        posts = posts.filter(scheduled_at__lte=scheduled_to)
    return posts.order_by("scheduled_at", "id")


def crisis_posts(*, crisis: Crisis) -> QuerySet[Post]:
    """Every post this crisis froze: those it holds back now, and those decided in its review
    (the decisions are the record once it is over)."""
    closure = _closure_if_open(crisis)
    decided = Q(pk__in=PostDecision.objects.filter(crisis=crisis).values("post"))
    posts = Post.objects.filter(frozen_q(closure=closure) | decided)
    return with_state(queryset=posts.select_related("account"), closure=closure).order_by(
        "scheduled_at", "id"
    )


def _undecided_q(crisis: Crisis) -> Q:
    """Frozen by this crisis now, and no decision yet: the one definition of "undecided"."""
    decided = PostDecision.objects.filter(crisis=crisis).values("post")
    return frozen_q(closure=_closure_if_open(crisis)) & ~Q(pk__in=decided)


def crisis_undecided_posts(*, crisis: Crisis) -> QuerySet[Post]:
    """The frozen posts still without a decision: what blocks a lift, what a stand-down releases,
    what the review's "undecided" filter shows (API and page)."""
    return Post.objects.filter(_undecided_q(crisis))


def crisis_review_posts(*, crisis: Crisis, undecided: bool = False) -> QuerySet[Post]:
    """The crisis's posts, each annotated with its review decision (one query); `undecided`:
    only those crisis_undecided_posts lists."""
    decision = PostDecision.objects.filter(crisis=crisis, post=OuterRef("pk"))
    posts = crisis_posts(crisis=crisis)
    if undecided:
        posts = posts.filter(_undecided_q(crisis))
    return posts.annotate(
        decision=Subquery(decision.values("decision")[:1]),
        decision_scheduled_at=Subquery(decision.values("scheduled_at")[:1]),
        decision_publish_now=Subquery(decision.values("publish_now")[:1]),
    )


def resume_spacing() -> timedelta:
    return timedelta(minutes=getattr(settings, "CRISISCOMM_RESUME_SPACING_MINUTES", 15))


def crisis_resume_plan(*, crisis: Crisis, at=None, limit: int | None = 500) -> list[dict]:
    """When each post the crisis holds will leave if the end is approved at `at` (default now):
    cancelled ones never; reschedules at their new time; releases at their own time (a
    stand-down releases the undecided ones). Those due at once (publish now, or a time already
    passed) leave paced: at most one per account per CRISISCOMM_RESUME_SPACING_MINUTES, in the
    order of their original times. [{post, account, handle, network, decision, leaves_at,
    paced}], by departure time."""
    at = at or timezone.now()
    closure = _closure_if_open(crisis)
    if closure is None:
        return []
    decision = PostDecision.objects.filter(crisis=crisis, post=OuterRef("pk"))
    rows = (
        posts_frozen(closure=closure)
        .annotate(
            decision=Subquery(decision.values("decision")[:1]),
            decision_at=Subquery(decision.values("scheduled_at")[:1]),
            publish_now=Subquery(decision.values("publish_now")[:1]),
        )
        .values(
            "pk",
            "account_id",
            "account__handle",
            "account__network",
            "scheduled_at",
            "decision",
            "decision_at",
            "publish_now",
        )
        .order_by("scheduled_at", "pk")
    )
    if crisis.end_kind != "stand_down" or crisis.status != CrisisStatus.LIFTING:
        # A lift applies decisions only (every frozen post has one by then).
        rows = rows.filter(decision__isnull=False)
    plan, next_slot = [], {}
    spacing = resume_spacing()
    for row in rows:
        kind = row["decision"] or PostFate.RELEASE
        if kind == PostFate.CANCEL:
            continue
        wanted = row["decision_at"] if kind == PostFate.RESCHEDULE else row["scheduled_at"]
        paced = bool(row["publish_now"]) or wanted <= at
        if paced:
            leaves_at = max(at, next_slot.get(row["account_id"], at))
            next_slot[row["account_id"]] = leaves_at + spacing
        else:
            leaves_at = wanted
        plan.append(
            {
                "post": row["pk"],
                "account": row["account_id"],
                "handle": row["account__handle"],
                "network": row["account__network"],
                "decision": "publish_now" if row["publish_now"] else kind,
                "leaves_at": leaves_at,
                "paced": paced,
            }
        )
    plan.sort(key=lambda item: (item["leaves_at"], item["post"]))
    return plan if limit is None else plan[:limit]


TIMELINE_NOTIFICATION_ACTIONS = ("notification.record", "notification.remind")


def crisis_timeline(*, crisis: Crisis, latest: int | None = None) -> list[AuditEntry]:
    """The crisis's audit trail, oldest first: its own entries, its gate's, its notification
    rounds, and the subjects other apps registered (statements: each statement's entries).
    `latest`: only the most recent N. The one timeline of the API report and the pages."""
    about = (
        Q(object_type="crises.crisis", object_id=str(crisis.pk))
        | Q(object_type="posts.gateclosure", object_id=str(crisis.gate_closure_id))
        # Event-level notification entries (not the one-per-person acknowledgements).
        | Q(action__in=TIMELINE_NOTIFICATION_ACTIONS, details__crisis=crisis.pk)
    )
    for subjects in timeline_subjects().values():
        about |= subjects(crisis=crisis)
    entries = AuditEntry.objects.filter(about)
    if latest is None:
        return list(entries.order_by("sequence"))
    return list(entries.order_by("-sequence")[:latest])[::-1]


def _timeline_row(entry: AuditEntry) -> dict:
    return {
        "sequence": entry.sequence,
        "at": entry.created_at.isoformat(),
        "action": entry.action,
        "actor": entry.actor_repr,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "details": entry.details,
    }


def crisis_retraction_candidates(*, crisis: Crisis) -> list[dict]:
    """Posts not exempt for this crisis that reached a network in the window before the
    declaration, or may have: published; a request written whatever the answer; a to-do handed
    to a person; and any whose outcome was lost (`uncertain`) until the crisis ended."""
    start = retraction_window_start(at=crisis.declared_at)
    lost_until = crisis.closed_at or timezone.now()
    candidates = posts_reached_network(start=start, end=crisis.declared_at, closure=crisis.gate_closure) | (
        posts_reached_network(start=start, end=lost_until, closure=crisis.gate_closure).filter(
            status=PostStatus.UNCERTAIN
        )
    )
    out = []
    for post in candidates.distinct().order_by("published_at", "network_attempt_at", "id"):
        can = get_connector(post.account.connector).can_retract and bool(post.external_id)
        published = post.status == PostStatus.PUBLISHED
        out.append(
            {
                "post": post.pk,
                "account": post.account_id,
                "network": post.account.network,
                "handle": post.account.handle,
                "body": post.body,
                "status": post.status,
                "reached": "published" if published else "may_have_gone_out",
                "reached_label": _("published") if published else _("may have gone out"),
                "published_at": _iso(post.published_at),
                "network_attempt_at": _iso(post.network_attempt_at),
                "external_id": post.external_id,
                "external_url": post.external_url,
                "retracted_at": _iso(post.retracted_at),
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


def crisis_report(*, crisis: Crisis) -> dict:
    """Timeline, every frozen post and its fate, retraction candidates, notification figures,
    and every section other apps registered (e.g. statements)."""
    decisions = {
        d.post_id: d
        for d in PostDecision.objects.filter(crisis=crisis).select_related("decided_by").order_by("post_id")
    }
    posts, fates = [], {}
    for p in crisis_posts(crisis=crisis).values(
        "id", "account_id", "account__network", "account__handle", "scheduled_at", "state"
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
                "status": p["state"],
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
            "checklist": crisis_checklist(crisis=crisis),
        },
        "timeline": [_timeline_row(e) for e in crisis_timeline(crisis=crisis)],
        "posts": {"total": len(posts), "by_fate": fates, "items": posts},
        "retraction_candidates": crisis_retraction_candidates(crisis=crisis),
        "notifications": notice_figures(crisis_id=crisis.pk, include=COUNTED_WITH_STAFF_NOTICE),
    }
    for name, fn in report_sections().items():
        report[name] = fn(crisis=crisis)
    return report


def crisis_end_blockers(*, crisis, kind=EndKind.LIFT, now=None) -> list[tuple[str, str]]:
    """Why the crisis cannot end (lift or stand-down) now, as (code, message), first reason
    first; the checklist is confirmed with the request itself. Posts due at once when the end is
    approved are not a blocker: they leave paced (crisis_resume_plan)."""
    now = now or timezone.now()
    reasons = []
    if kind == EndKind.LIFT and now < crisis.freeze_until:
        reasons.append(
            (
                "freeze_in_force",
                _("The freeze lasts until %(until)s.") % {"until": local_time(value=crisis.freeze_until)},
            )
        )
    undecided = crisis_undecided_posts(crisis=crisis)
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
    return reasons
