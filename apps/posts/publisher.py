"""The publisher: claim due posts, send each through its connector behind the gate's fence,
record the outcome (published, handed to a person, retried, failed, uncertain), and the relay
that finds lost claims. The riskiest code of the house: read `post_send` first.

It knows only the gate (GateClosure), never what a crisis is.
"""

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core import outbound
from apps.core.errors import ConflictError, NotAllowedError, ServiceError
from apps.core.roles import DCO, has_role, require_role

from .connectors import ConnectorError, Deadline, get_connector, open_connection, send_deadline_seconds
from .listeners import Outcome, post_outcome_recorded
from .locks import gate_lock_shared, pin_session
from .models import GateClosure, Post, PostStatus
from .selectors import _UNSET, post_is_frozen

log = logging.getLogger(__name__)

# A `publishing` claim older than this, with no send holding its row, is sent again (same key).
STALE_CLAIM = timedelta(minutes=15)
MAX_ATTEMPTS = 5
_REPLY_STARTS = re.compile(r"HTTP \d{3}|unexpected answer")


def _without_reply(error: str) -> str:
    """A connector's error cut after the status (what a remote server answered, which may echo
    anything back, is shown to the DCO only)."""
    match = _REPLY_STARTS.search(error or "")
    return error[: match.end()] if match else error


class NetworkError(ServiceError):
    """The network did not do what we asked (retraction failed)."""

    status_code = 502

    def __init__(self, message, *, field=None, code="network_error"):
        super().__init__(message, field=field, code=code)


def retry_delay(*, attempts: int) -> int:
    """Seconds before the next try: 30 s, doubling, at most 10 minutes (below STALE_CLAIM)."""
    return min(30 * 2 ** max(attempts - 1, 0), 600)


# --- the publisher -----------------------------------------------------------------------------


@transaction.atomic
def posts_claim_due(*, limit: int | None = None) -> list[int]:
    """Claim due posts (SELECT … FOR UPDATE SKIP LOCKED, so concurrent publishers share the
    work) and mark them `publishing`. While the gate is closed only the posts exempt for that
    very closure are claimed (the others are frozen: nothing to write)."""
    limit = limit or settings.CRISISCOMM_PUBLISH_BATCH
    gate_lock_shared()
    now = timezone.now()
    closure = GateClosure.objects.filter(is_current=True).first()
    due = Post.objects.filter(
        status=PostStatus.SCHEDULED, awaiting_approval=False, scheduled_at__lte=now, account__is_active=True
    )
    if closure is not None:
        due = due.filter(exempt_closure=closure)
    ids = list(
        due.order_by("scheduled_at", "id")
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("id", flat=True)[:limit]
    )
    if ids:
        Post.objects.filter(pk__in=ids).update(
            status=PostStatus.PUBLISHING, claimed_at=now, assignee=None, send_started_at=None
        )
        audit_record(actor=None, action="post.claim", object_type="posts.post", details={"posts": ids})
    return ids


def _lost_outcome_cutoff(now):
    # A send is over by its deadline; past it (and a margin) a send_started_at still set on an
    # unlocked row means its session died without recording the outcome.
    return now - timedelta(seconds=send_deadline_seconds() + 60)


@transaction.atomic
def posts_reclaim_stale(*, older_than: timedelta = STALE_CLAIM) -> list[int]:
    """The relay. `publishing` posts whose send never started (worker died, task dropped): send
    them again (same idempotency key). Those whose send started and whose outcome was lost: mark
    them `uncertain`, never re-send. A send in progress holds its row lock: SKIP LOCKED leaves it."""
    now = timezone.now()
    lost = list(
        Post.objects.filter(status=PostStatus.PUBLISHING, send_started_at__lt=_lost_outcome_cutoff(now))
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)
    )
    for post_id in lost:
        _mark_uncertain(post_id, _("The send started but its outcome was never recorded."), at=None)
    ids = list(
        Post.objects.filter(
            status=PostStatus.PUBLISHING,
            assignee__isnull=True,
            send_started_at__isnull=True,
            claimed_at__lt=now - older_than,
        )
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)
    )
    if ids:
        Post.objects.filter(pk__in=ids).update(claimed_at=now)
        audit_record(actor=None, action="post.reclaim", object_type="posts.post", details={"posts": ids})
    return ids


class SendOutcome:
    PUBLISHED = "published"
    ASSIGNED = "assigned"
    RETRY = "retry"
    FAILED = "failed"
    FROZEN = "frozen"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"


def _mark_uncertain(post_id: int, why: str, *, at) -> bool:
    """The outcome of a send is unknown: it may have gone out. Recorded on a fresh session (the
    sender's is gone); never re-sent automatically."""
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(pk=post_id, status=PostStatus.PUBLISHING).first()
        if post is None:
            return False
        post.network_attempt_at = at or post.send_started_at or timezone.now()
        post.status, post.send_started_at = PostStatus.UNCERTAIN, None
        post.last_error = why[:2000]
        post.save(
            update_fields=["status", "send_started_at", "network_attempt_at", "last_error", "updated_at"]
        )
        audit_record(actor=None, action="post.uncertain", obj=post, details={"why": why})
    return True


def _start_send(post_id: int):
    """Phase 1, committed: the post is ours to send and a send may start from now on. A post
    whose previous send started and never recorded its outcome becomes `uncertain` here (Celery
    redelivered the task of a worker that died mid-send): it is never sent twice."""
    with transaction.atomic():
        post = _locked_post(post_id)
        if post is None or post.status != PostStatus.PUBLISHING or post.assignee_id:
            return None  # already sent, cancelled, frozen back, or a to-do for a person
        started = post.send_started_at
        if started is None:
            post.send_started_at = timezone.now()
            post.save(update_fields=["send_started_at", "updated_at"])
    if started is not None:
        _mark_uncertain(post_id, _("An earlier send started and never recorded its outcome."), at=started)
        return SendOutcome.UNCERTAIN
    return post


def _locked_post(post_id):
    return Post.objects.select_for_update(of=("self",)).select_related("account").filter(pk=post_id).first()


def _back_to_calendar(post, fields=()):
    post.status, post.send_started_at, post.claimed_at = PostStatus.SCHEDULED, None, None
    post.save(update_fields=["status", "send_started_at", "claimed_at", "updated_at", *fields])


def post_send(*, post_id: int) -> str:
    """Send one claimed post. The fence:
    1. commit `send_started_at` (so a lost outcome is recognised, never re-sent);
    2. open the connection (DNS, TCP, TLS) with no lock held, bounded by the send deadline;
    3. in ONE transaction on a session that cannot be timed out: take the gate lock shared, check
       the gate, write the request, read the answer (the deadline cuts the exchange), record it.
    A declaration is granted its exclusive lock only after step 3 ends, and any step 3 after it
    sees the closed gate. If the session dies during step 3, the post becomes `uncertain` through
    a new session (or the relay, posts_reclaim_stale) and is listed as a retraction candidate."""
    started = _start_send(post_id)
    if started is None:
        return SendOutcome.SKIPPED
    if started == SendOutcome.UNCERTAIN:
        return SendOutcome.UNCERTAIN
    post = started
    deadline = Deadline()
    link = None
    try:
        connector = get_connector(post.account.connector)
        try:
            request = connector.build_request(post)
            if request is not None:
                link = open_connection(request.url, deadline=deadline)
        except (KeyError, TypeError, ValueError) as exc:  # a configuration the connector cannot use
            raise ConnectorError(f"{post.account}: {exc.__class__.__name__}: {exc}", retryable=False) from exc
        except ServiceError as exc:  # a target refused (outbound rules): nothing was written
            raise ConnectorError(exc.message, retryable=getattr(exc, "retryable", False)) from exc
    except ConnectorError as exc:
        with transaction.atomic():
            post = _locked_post(post_id)
            post.attempts += 1
            return _record_failure(post, exc)
    try:
        with transaction.atomic():
            pin_session()
            gate_lock_shared()
            return _send_under_lock(post_id, connector, request, link, deadline)
    except DatabaseError as exc:
        reached = link is not None and link.reached_network
        log.warning("post %s: session lost during the send (%s); reached network: %s", post_id, exc, reached)
        connection.close()  # reconnect for the record below
        if reached:
            why = _("The database session was lost during the send: it may have gone out.")
            _mark_uncertain(post_id, why, at=timezone.now())
            return SendOutcome.UNCERTAIN
        # Nothing was written: the claim stands; the relay sends it again (same key).
        with transaction.atomic():
            Post.objects.filter(pk=post_id, status=PostStatus.PUBLISHING).update(send_started_at=None)
        return SendOutcome.RETRY
    finally:
        if link is not None:
            link.close()


def _send_under_lock(post_id, connector, request, link, deadline) -> str:
    post = _locked_post(post_id)
    if post is None or post.status != PostStatus.PUBLISHING or post.assignee_id:
        return SendOutcome.SKIPPED
    # The last gate check: same session, under the lock, right before the request is written.
    closure = GateClosure.objects.filter(is_current=True).first()
    if closure is not None and post.exempt_closure_id != closure.pk:
        _back_to_calendar(post)  # reads `frozen` now, and joins the review
        audit_record(actor=None, action="post.freeze", obj=post, details={"closure": closure.pk})
        return SendOutcome.FROZEN
    if post.awaiting_approval:  # held after its claim: back to the calendar
        _back_to_calendar(post)
        return SendOutcome.SKIPPED

    post.attempts += 1
    try:
        if request is None:
            result = connector.send_offline(post)
        else:
            written_at = timezone.now()
            try:
                response = link.exchange(request, deadline=deadline)
            finally:
                if link.reached_network:
                    post.network_attempt_at = written_at
            result = connector.read_answer(post, response)
    except ConnectorError as exc:
        return _record_failure(post, exc)

    post.send_started_at = None
    if result.assignee is not None:
        post.assignee = result.assignee
        post.save(update_fields=["attempts", "assignee", "send_started_at", "updated_at"])
        audit_record(actor=None, action="post.assign", obj=post, details={"assignee": result.assignee.pk})
        post_outcome_recorded(post=post, outcome=Outcome.ASSIGNED)  # the person is told
        return SendOutcome.ASSIGNED
    post.status = PostStatus.PUBLISHED
    # outbound: a network's answer becomes a link on the pages only when it is http(s).
    post.external_id, post.external_url = (
        result.external_id,
        outbound.safe_http_url(result.external_url)[:500],
    )
    post.published_at, post.last_error = timezone.now(), ""
    post.save(
        update_fields=[
            "status",
            "attempts",
            "external_id",
            "external_url",
            "published_at",
            "last_error",
            "send_started_at",
            "network_attempt_at",
            "updated_at",
        ]
    )
    audit_record(
        actor=None,
        action="post.publish",
        obj=post,
        details={"external_id": post.external_id, "exempt": post.exempt},
    )
    # Under the post's lock, in the send's transaction: a statement follows its last post out.
    post_outcome_recorded(post=post, outcome=Outcome.PUBLISHED)
    return SendOutcome.PUBLISHED


def _record_failure(post, exc: ConnectorError) -> str:
    post.last_error = str(exc)[:2000]
    post.claimed_at, post.send_started_at = timezone.now(), None
    fields = ["attempts", "last_error", "claimed_at", "send_started_at", "network_attempt_at", "updated_at"]
    if exc.retryable and post.attempts < MAX_ATTEMPTS:
        post.save(update_fields=fields)
        audit_record(
            actor=None,
            action="post.send_error",
            obj=post,
            details={"attempt": post.attempts, "reached_network": exc.reached_network},
        )
        return SendOutcome.RETRY
    post.status = PostStatus.FAILED
    post.save(update_fields=[*fields, "status"])
    audit_record(
        actor=None,
        action="post.fail",
        obj=post,
        # outbound: the trail is read beyond the DCO: the error without the remote reply.
        details={"attempts": post.attempts, "error": _without_reply(post.last_error)},
    )
    post_outcome_recorded(post=post, outcome=Outcome.FAILED)  # nothing sends it again by itself
    return SendOutcome.FAILED


def post_check_mark_published(*, actor, post, closure=_UNSET) -> None:
    """Who may say a post is out, and when: its assignee or a dco, the post handed to a person
    to publish by hand and not frozen (or `uncertain`, for a dco who checked the network).
    Raises the service's error."""
    if not (has_role(actor, DCO) or (post.assignee_id and post.assignee_id == actor.pk)):
        raise NotAllowedError(_("Only the assignee of this post or a dco may mark it published."))
    if post_is_frozen(post=post, closure=closure):
        raise ConflictError(_("This post is frozen by a crisis: do not publish it."), code="frozen")
    # A dco who checked the network may record that an `uncertain` post did go out.
    uncertain_checked = post.status == PostStatus.UNCERTAIN and has_role(actor, DCO)
    if not uncertain_checked and (post.status != PostStatus.PUBLISHING or not post.assignee_id):
        raise ConflictError(_("This post is not waiting to be published by hand."))


@transaction.atomic
def post_mark_published(*, actor, post, external_url: str = "", external_id: str = "") -> Post:
    """The assignee of a manual post (or a dco) says it is out."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    post_check_mark_published(actor=actor, post=post)
    if external_url and not external_url.startswith(("http://", "https://")):
        raise ServiceError(_("Enter an http(s) URL."), field="external_url")
    post.status, post.published_at = PostStatus.PUBLISHED, timezone.now()
    post.external_url, post.external_id = external_url[:500], external_id[:200]
    post.save(update_fields=["status", "published_at", "external_url", "external_id", "updated_at"])
    audit_record(actor=actor, action="post.publish", obj=post, details={"manual": True})
    post_outcome_recorded(post=post, outcome=Outcome.PUBLISHED, actor=actor)
    return post


@transaction.atomic
def post_hand_to_person(*, actor, post, assignee) -> Post:
    """A dco hands a failing post (failed, or `publishing` and retrying by itself) to a person,
    who publishes it by hand and then says so: the manual connector's to-do. Locks as a send
    does, gate then row (a caller that locks the row first takes the gate lock before it): a
    send writing its request holds both, so this waits for its outcome and re-reads the row. A
    send between its committed start and that step holds nothing but `send_started_at`: 409,
    never taken over (its outcome follows; a send left there by a dead worker becomes
    `uncertain`). Listeners are told as for the publisher's own hand-over (the assignee)."""
    require_role(actor, DCO)
    gate_lock_shared()
    post = _locked_post(post.pk)
    # Re-checked on the locked row: what the caller read may be a send's outcome ago.
    if post.send_started_at is not None:
        raise ConflictError(_("This post is being sent right now: wait for its outcome."), code="sending")
    retrying = post.status == PostStatus.PUBLISHING and not post.assignee_id and post.last_error
    if post.status != PostStatus.FAILED and not retrying:
        raise ConflictError(
            _("Only a failing post is handed to a person; this one is %(status)s.")
            % {"status": post.get_status_display()}
        )
    if not assignee.is_active:
        raise ServiceError(_("This person's account is not active."), field="assignee")
    previous = post.status
    post.status, post.assignee, post.claimed_at = PostStatus.PUBLISHING, assignee, timezone.now()
    post.save(update_fields=["status", "assignee", "claimed_at", "updated_at"])
    audit_record(
        actor=actor,
        action="post.assign",
        obj=post,
        details={"assignee": assignee.pk, "by_hand": True, "previous_status": previous},
    )
    post_outcome_recorded(post=post, outcome=Outcome.ASSIGNED, actor=actor)  # the person is told
    return post


def post_check_retract(*, actor, post) -> None:
    """Who may retract a post, and when: a dco, the post published through a network API whose
    connector can delete it, not yet retracted. Raises the service's error."""
    require_role(actor, DCO)
    if post.status != PostStatus.PUBLISHED or not post.external_id:
        raise ConflictError(_("Only a post published through a network API can be retracted."))
    if post.retracted_at:
        raise ConflictError(_("This post has already been retracted."))
    if not get_connector(post.account.connector).can_retract:
        raise ConflictError(_("This connector cannot delete a published post."))


@transaction.atomic
def post_retract(*, actor, post) -> Post:
    """Delete a published post from its network (Mastodon), e.g. one sent just before a crisis."""
    require_role(actor, DCO)
    post = Post.objects.select_for_update(of=("self",)).select_related("account").get(pk=post.pk)
    post_check_retract(actor=actor, post=post)
    connector = get_connector(post.account.connector)
    try:
        connector.retract(post)
    except ConnectorError as exc:
        raise NetworkError(_("The network refused the deletion: %(error)s") % {"error": exc}) from exc
    post.retracted_at = timezone.now()
    post.save(update_fields=["retracted_at", "updated_at"])
    audit_record(actor=actor, action="post.retract", obj=post, details={"external_id": post.external_id})
    return post
