"""The delivery engine: workers claim queued notices, hand them over one by one on a channel
(never a second copy: see services.py) and record each outcome; transient failures are retried
after a back-off, superseded or deactivated ones cancelled."""

import threading
import time
import uuid
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.services import audit_record

from .channels import DeliveredUnconfirmed, DeliveryError, get_channel, send_timeout
from .messages import MessageBook
from .models import Notice, NoticeEvent, NoticeStatus
from .outbox import superseding_event

# How often a running delivery looks for a lift or stand-down that makes its notices moot.
SUPERSEDED_CHECK_SECONDS = 2.0
# Set when the worker is asked to stop (SIGTERM, see tasks.py): deliveries stop between mails.
STOPPING = threading.Event()


def _setting(name, default):
    return getattr(settings, name, default)


def batch_size() -> int:
    # Claims large enough that claiming costs little per mail; a killed worker's claim is free
    # again after the short claim_lease() (a live worker renews it, see _heartbeat).
    return _setting("CRISISCOMM_NOTIFY_BATCH", 200)


def claim_lease() -> timedelta:
    """How long claimed rows a worker has not reached yet stay its own without a heartbeat: a
    live worker renews its claim every third of it, so a dead one's rows wait at most this."""
    return _setting("CRISISCOMM_NOTIFY_LEASE", timedelta(seconds=15))


def _heartbeat(token) -> None:
    """Renew the lease of the claimed rows this worker has not reached yet: one statement every
    few seconds, not one per mail."""
    Notice.objects.filter(claim_token=token, status=NoticeStatus.QUEUED).update(claimed_at=timezone.now())


def sending_lease() -> timedelta:
    """How long a row stays `sending` before the relay takes its worker for dead: longer than
    one bounded send (every network operation of it times out after send_timeout())."""
    return max(claim_lease(), timedelta(seconds=3 * send_timeout()))


def retry_window() -> timedelta:
    """Transient failures (SMTP 4xx, connection loss) are retried for at least this long."""
    return _setting("CRISISCOMM_NOTIFY_RETRY_WINDOW", timedelta(hours=24))


def _cancel_queued(event_id: int, channel: str, reason: str) -> int:
    return Notice.objects.filter(event_id=event_id, channel=channel, status=NoticeStatus.QUEUED).update(
        status=NoticeStatus.CANCELLED, error=reason, claim_token=None, next_attempt_at=None
    )


def _cancel_one(notice, reason: str) -> bool:
    return bool(
        Notice.objects.filter(pk=notice.pk, status=NoticeStatus.QUEUED).update(
            status=NoticeStatus.CANCELLED, error=reason, claim_token=None, next_attempt_at=None
        )
    )


def _why_not_send(notice) -> str | None:
    if notice.user_id is not None and not notice.user.is_active:
        return "Not sent: the person's account was deactivated."
    if notice.webhook_id is not None and not notice.webhook.is_active:
        return "Not sent: the webhook was deactivated."
    return None


# --- delivery ----------------------------------------------------------------------------------


def claimable(*, now):
    return (
        Q(status=NoticeStatus.QUEUED)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & (Q(claim_token__isnull=True) | Q(claimed_at__lt=now - claim_lease()))
    )


def notices_claim(
    *, event_id: int, channel: str, limit: int, event: NoticeEvent | None = None
) -> tuple[uuid.UUID, list[Notice]]:
    """Claim up to `limit` queued notices in one statement; concurrent workers skip each
    other's rows (FOR UPDATE SKIP LOCKED: a row another claim changed meanwhile is re-checked
    against the conditions once locked)."""
    token = uuid.uuid4()
    now = timezone.now()
    table = connection.ops.quote_name(Notice._meta.db_table)
    claimable = f"""status = '{NoticeStatus.QUEUED}'
        AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
        AND (claim_token IS NULL OR claimed_at < %s)"""
    # The CTE runs once (a plain `id IN (subquery … LIMIT)` may be re-run per row and claim
    # far more than `limit` rows).
    sql = f"""
        WITH picked AS (
            SELECT id FROM {table}
            WHERE event_id = %s AND channel = %s AND {claimable}
            ORDER BY id LIMIT %s
            FOR UPDATE SKIP LOCKED
        )
        UPDATE {table} AS n SET claim_token = %s, claimed_at = %s
        FROM picked WHERE n.id = picked.id
        RETURNING n.id
    """  # noqa: S608 - table name quoted, enum constant, values are parameters
    expired = now - claim_lease()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event_id, channel, now, expired, limit, token, now])
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return token, []
    rows = Notice.objects.filter(pk__in=ids, claim_token=token, status=NoticeStatus.QUEUED).order_by("pk")
    if event is None:
        return token, list(rows.select_related("user", "webhook", "event", "event__parent"))
    # The caller's event object for every row: not one event (and parent) instance per mail.
    claimed = list(rows.select_related("user", "webhook"))
    for notice in claimed:
        notice.event = event
    return token, claimed


def _fast_commits():
    """Delivery status rows are written one by one; skip the WAL flush wait for them. A
    database crash could forget the last few status changes; the worst case is a `sent` read
    back as `sending`, sent again with the same Message-ID."""
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")


def _normal_commits():
    with connection.cursor() as cursor:
        cursor.execute("RESET synchronous_commit")


def notices_deliver(*, event_id: int, channel: str, time_budget: float | None = None) -> dict:
    """Send the event's queued notices on one channel, batch after batch, until none is left
    (or `time_budget` seconds have passed, or the worker is stopping: then {"more": True} and
    the task re-enqueues). Notices superseded by a later lift or stand-down are cancelled."""
    chan = get_channel(channel)
    started = time.monotonic()
    totals = {"sent": 0, "failed": 0, "retry": 0, "cancelled": 0, "more": False}
    event = NoticeEvent.objects.select_related("parent").filter(pk=event_id).first()
    if event is None:
        return totals
    book = MessageBook()
    checked_at = None
    _fast_commits()
    try:
        with chan.session() as session:  # one connection for the whole run, not one per claim
            while True:
                # A lift or stand-down recorded meanwhile: checked every few seconds, not per claim.
                if checked_at is None or time.monotonic() - checked_at > SUPERSEDED_CHECK_SECONDS:
                    checked_at = time.monotonic()
                    later = superseding_event(root=event.root)
                    if later is not None:
                        totals["cancelled"] += _cancel_queued(
                            event_id, channel, f"Not sent: superseded by {later.event} (#{later.pk})."
                        )
                        break
                token, batch = notices_claim(
                    event_id=event_id, channel=channel, limit=batch_size(), event=event
                )
                if not batch:
                    break
                result = _deliver_batch(chan, session, batch, token, book)
                for key in ("sent", "failed", "retry", "cancelled"):
                    totals[key] += result[key]
                if result["aborted"]:
                    break
                over_budget = time_budget is not None and time.monotonic() - started > time_budget
                if STOPPING.is_set() or over_budget:
                    totals["more"] = True
                    break
    finally:
        _normal_commits()
    if any(totals[k] for k in ("sent", "failed", "retry", "cancelled")):
        with transaction.atomic():
            audit_record(
                actor=None,
                action="notification.deliver_batch",
                object_type="notifications.noticeevent",
                object_id=event_id,
                details={
                    "channel": channel,
                    **{k: totals[k] for k in ("sent", "failed", "retry", "cancelled")},
                },
            )
    return totals


def _deliver_batch(chan, session, batch, token, book) -> dict:
    result = {"sent": 0, "failed": 0, "retry": 0, "cancelled": 0, "aborted": False}
    connection_errors = 0
    delivered = None  # the notice just handed over, recorded `sent` with the next one's take
    renew_every = claim_lease().total_seconds() / 3
    renewed_at = time.monotonic()
    try:
        for index, notice in enumerate(batch):
            if time.monotonic() - renewed_at > renew_every:
                _heartbeat(token)
                renewed_at = time.monotonic()
            if STOPPING.is_set():  # SIGTERM: stop between two mails, hand the rest back
                _release([n.pk for n in batch[index:]], token)
                break
            reason = _why_not_send(notice)
            if reason is not None:
                result["cancelled"] += _cancel_one(notice, reason)
                continue
            chan.pace()
            taken = _advance(sent=delivered, take=notice.pk, token=token)
            delivered = None
            if not taken:  # acknowledged meanwhile, or no longer ours
                continue
            try:
                if notice.user_id:
                    message = book.for_person(notice.event, user=notice.user, language=notice.language)
                else:
                    message = book.for_team(notice.event, webhook=notice.webhook)
                chan.send(notice, message, session)
            except DeliveredUnconfirmed as doubt:
                _advance(sent=notice.pk, take=None, token=token)
                Notice.objects.filter(pk=notice.pk).update(error=str(doubt)[:2000])
                result["sent"] += 1
                continue
            except Exception as exc:
                error = exc if isinstance(exc, DeliveryError) else DeliveryError(repr(exc))
                final = _record_failure(notice, error)
                result["failed" if final else "retry"] += 1
                if error.connection:
                    connection_errors += 1
                if connection_errors >= 3:
                    # The far end is down: hand the rest back untouched, attempts unspent.
                    _release([n.pk for n in batch[index + 1 :]], token)
                    result["aborted"] = True
                    break
                continue
            connection_errors = 0
            delivered = notice.pk
            result["sent"] += 1
    finally:
        if delivered is not None:
            _advance(sent=delivered, take=None, token=token)
    return result


def _advance(*, sent: int | None, take: int | None, token) -> bool:
    """One statement per notice: record the previous one `sent` (or `acknowledged` if the
    person acknowledged meanwhile) and mark the next one `sending`, if it is still queued and
    ours. Returns whether the next one was taken."""
    if sent is None and take is None:
        return False
    table = connection.ops.quote_name(Notice._meta.db_table)
    now = timezone.now()
    prev = -1 if sent is None else sent
    nxt = -1 if take is None else take
    S = NoticeStatus
    sql = f"""
        UPDATE {table} SET
          status = CASE WHEN id = %s THEN
              (CASE WHEN acknowledged_at IS NULL THEN '{S.SENT}' ELSE '{S.ACKNOWLEDGED}' END)
              ELSE '{S.SENDING}' END,
          sent_at = CASE WHEN id = %s THEN %s ELSE sent_at END,
          attempts = CASE WHEN id = %s THEN attempts + 1 ELSE attempts END,
          error = CASE WHEN id = %s THEN '' ELSE error END,
          claim_token = CASE WHEN id = %s THEN NULL ELSE claim_token END,
          claimed_at = %s
        WHERE (id = %s AND status = '{S.SENDING}')
           OR (id = %s AND status = '{S.QUEUED}' AND claim_token = %s)
    """  # noqa: S608 - only ints, enum constants and parameters
    params = [prev, prev, now, prev, prev, prev, now, prev, nxt, token]
    # A server-binding cursor (Django's default one interpolates on the client) with
    # prepare=True: PostgreSQL parses and plans this statement once per connection, not per mail.
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        changed = cursor.rowcount
    return take is not None and changed - (1 if sent is not None else 0) > 0


def retry_delay(*, attempts: int) -> timedelta:
    """After the n-th failed attempt: 30 s, 1 min, 2 min, … doubling up to an hour."""
    base = _setting("CRISISCOMM_NOTIFY_BACKOFF", 30)
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 3600))


def _record_failure(notice, error: DeliveryError) -> bool:
    """Back to the queue after a back-off for a transient failure (until the retry window is
    over), failed for a permanent one. Returns whether the failure is final."""
    attempts = notice.attempts + 1
    now = timezone.now()
    final = error.permanent or now - notice.created_at >= retry_window()
    Notice.objects.filter(pk=notice.pk, status=NoticeStatus.SENDING).update(
        status=NoticeStatus.FAILED if final else NoticeStatus.QUEUED,
        attempts=attempts,
        error=str(error)[:2000],
        next_attempt_at=None if final else now + retry_delay(attempts=attempts),
        claim_token=None,
    )
    return final


def _release(ids, token):
    Notice.objects.filter(pk__in=ids, claim_token=token, status=NoticeStatus.QUEUED).update(
        claim_token=None, claimed_at=None
    )
