"""Notification services: the entry points other apps call, fan-out, delivery, acknowledgement.

Guarantees, and how:
- Nothing lost: `notify_event` / `notify_users` write one outbox row (NoticeEvent) in the
  caller's transaction; the fan-out is enqueued only after commit, and the relay re-enqueues
  whatever is still unmaterialised or queued, so a broker outage delays notices, never drops them.
- One notice per (event, person, channel): a unique constraint, and rows created by one
  INSERT … SELECT … ON CONFLICT DO NOTHING per channel, so a re-run materialisation adds nothing.
- Never a second copy: a worker claims rows (SELECT … FOR UPDATE SKIP LOCKED + a claim token),
  marks ONE row `sending` just before handing it over and `sent` right after (one statement per
  mail does both), so a retried task or another worker only ever takes rows nobody sent. The one
  row a killed worker leaves `sending` (it was waiting for the far end) is sent again after the
  lease, with the same Message-ID, so that even in the rare case it had gone out the receiver
  sees one message.
- Acknowledging covers the person's notices for the event on every channel and every reminder
  round; notices not yet sent to them are then not sent at all.
"""

import logging
import threading
import time
import uuid
from datetime import timedelta

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import StaffProfile, profile_of
from apps.accounts.roles import DCO, has_role
from apps.audit.services import audit_record
from apps.core import outbound
from crisiscomm.api import NotAllowedError, ServiceError

from .channels import DeliveredUnconfirmed, DeliveryError, get_channel, person_channels, send_timeout
from .messages import MessageBook, read_ack_token
from .models import Acknowledgement, Notice, NoticeEvent, NoticeStatus, TeamWebhook

log = logging.getLogger(__name__)

# Who hears of an event when the caller names nobody: every active staff member, or the DCOs.
DCO_ONLY_EVENTS = {"crisis.lift_requested"}
# Events whose unacknowledged recipients get reminders.
REMINDED_EVENTS = {"crisis.declared", "crisis.extended"}
# Crisis events that supersede earlier ones (no more reminders about an older one).
SUPERSEDING_EVENTS = {"crisis.declared", "crisis.extended", "crisis.lifted", "crisis.stood_down"}
# A crisis's state, as the outbox sees it: open after these...
OPEN_CRISIS_EVENTS = {"crisis.declared", "crisis.extended"}
# ...closed after these, whose notices replace any not yet sent about the crisis being on.
CLOSING_EVENTS = {"crisis.lifted", "crisis.stood_down"}
CRISIS_STATE_EVENTS = OPEN_CRISIS_EVENTS | CLOSING_EVENTS
SUPERSEDED_BY_CLOSE = {
    "crisis.declared",
    "crisis.extended",
    "crisis.lift_requested",
    "crisis.stand_down_requested",
}

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


def _actor_or_none(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


# --- entry points called by other apps, inside their transaction -----------------------------


@transaction.atomic
def notify_event(*, event: str, crisis_id: int, context: dict, actor=None) -> NoticeEvent:
    """Crisis events ("crisis.declared", "crisis.extended", "crisis.lifted", "crisis.stood_down",
    "crisis.lift_requested"): one outbox row in the caller's transaction; after commit Celery
    creates one notice per active staff member and channel (and per team webhook) and sends."""
    return _record_event(event=event, crisis_id=crisis_id, context=context, recipients=None, actor=actor)


@transaction.atomic
def notify_users(
    *, event: str, user_ids: list[int], context: dict, crisis_id: int | None = None, actor=None
) -> NoticeEvent:
    """Targeted notices (e.g. "statement.submitted" to reviewers), same guarantees."""
    recipients = sorted({int(pk) for pk in user_ids})
    return _record_event(
        event=event, crisis_id=crisis_id, context=context, recipients=recipients, actor=actor
    )


def _record_event(*, event, crisis_id, context, recipients, actor) -> NoticeEvent:
    if not event or len(event) > 64:
        raise ServiceError("An event name of at most 64 characters is required.", field="event")
    notice_event = NoticeEvent.objects.create(
        event=event,
        crisis_id=crisis_id,
        context=context or {},
        recipients=recipients,
        actor=_actor_or_none(actor),
    )
    audit_record(
        actor=actor,
        action="notification.record",
        obj=notice_event,
        details={
            "event": event,
            "crisis": crisis_id,
            "recipients": "staff" if recipients is None else len(recipients),
        },
    )
    event_id = notice_event.pk
    transaction.on_commit(lambda: _enqueue_materialise(event_id))
    return notice_event


def _enqueue_materialise(event_id: int):
    from . import tasks

    tasks.enqueue(tasks.materialise_event, event_id)


def _enqueue_delivery(event_id: int, channel: str, copies: int = 1):
    from . import tasks

    for _ in range(copies):
        tasks.enqueue(tasks.deliver_notices, event_id, channel)


# --- fan-out: materialise the notice rows ------------------------------------------------------


# The audience "every active person": said in SQL as a plain condition (_insert_notices_sql).
ALL_ACTIVE = object()


def _active_users():
    return get_user_model().objects.filter(is_active=True)


def _audience(event: NoticeEvent):
    """The people an event (or reminder round) reaches, as a queryset of users. A reminder
    round reaches every active person of the root's audience who has not acknowledged, whether
    or not the root reached them (people who arrived since are told too)."""
    root = event.root
    if root.recipients is not None:
        users = _active_users().filter(pk__in=root.recipients)
    elif root.event in DCO_ONLY_EVENTS:
        users = _active_users().filter(groups__name=DCO).distinct()
    else:
        users = _active_users()
    if event.parent_id:
        acknowledged = Acknowledgement.objects.filter(event=root).values("user_id")
        users = users.exclude(pk__in=acknowledged)
    elif root.recipients is None and root.event not in DCO_ONLY_EVENTS:
        return ALL_ACTIVE
    return users


def event_materialise(*, event_id: int) -> dict:
    """Create the notice rows of an event: per channel one INSERT … SELECT over the audience
    (35,000 people in about a second), instant channels (the inbox) first so that they are
    visible at once. Idempotent: ON CONFLICT DO NOTHING on the (event, person, channel) key."""
    event = NoticeEvent.objects.select_related("parent").filter(pk=event_id).first()
    if event is None:  # a stale task for an event rolled back since
        return {}
    created = _materialise(event, _audience(event))
    root = event.root
    if not event.parent_id and root.recipients is None and root.event not in DCO_ONLY_EVENTS:
        hooks = TeamWebhook.objects.filter(is_active=True)
        rows = [
            Notice(
                event=event,
                crisis_id=root.crisis_id,
                webhook=hook,
                channel="webhook",
                department=hook.department,
                language=hook.language,
                message_key=uuid.uuid4(),
            )
            for hook in hooks
        ]
        Notice.objects.bulk_create(rows, ignore_conflicts=True)
        created["webhook"] = len(rows)
    with transaction.atomic():
        NoticeEvent.objects.filter(pk=event.pk, materialised_at__isnull=True).update(
            materialised_at=timezone.now()
        )
        audit_record(
            actor=None,
            action="notification.materialise",
            obj=event,
            details={"event": root.event, "crisis": root.crisis_id, "rows": created},
        )
        _enqueue_after_commit(event)
    return created


def _materialise(event, audience) -> dict:
    reminder = bool(event.parent_id)
    channels = sorted(
        (c for c in person_channels() if c.reminders or not reminder), key=lambda c: not c.instant
    )
    created = {}
    for channel in channels:
        if channel.sql_condition is not None:
            created[channel.type] = _insert_notices_sql(event, event.root, channel, audience)
        else:
            people = _active_users() if audience is ALL_ACTIVE else audience
            created[channel.type] = _insert_notices_python(event, event.root, channel, people)
    return created


def _insert_notices_sql(event, root, channel, audience) -> int:
    users = get_user_model()._meta.db_table
    quote = connection.ops.quote_name
    if audience is ALL_ACTIVE:
        # Everyone active: a plain condition on the scan, no semi-join against a subquery.
        audience_sql, audience_params = "u.is_active", ()
    else:
        sub_sql, audience_params = audience.values("pk").query.sql_with_params()
        audience_sql = f"u.id IN ({sub_sql})"
    now = timezone.now()
    status = NoticeStatus.SENT if channel.instant else NoticeStatus.QUEUED
    sql = f"""
        INSERT INTO {quote(Notice._meta.db_table)}
          (event_id, crisis_id, user_id, channel, department, language, status, attempts, error,
           created_at, sent_at, message_key)
        SELECT %s, %s, u.id, %s, COALESCE(p.department, %s),
               CASE WHEN p.language IS NULL OR p.language = '' THEN %s ELSE p.language END,
               %s, 0, '', %s, %s, {"NULL" if channel.instant else "gen_random_uuid()"}
        FROM {quote(users)} u
        LEFT JOIN {quote(StaffProfile._meta.db_table)} p ON p.user_id = u.id
        WHERE {audience_sql} AND ({channel.sql_condition})
        {"" if channel.instant else "ORDER BY u.id"}
        ON CONFLICT DO NOTHING
    """  # noqa: S608 - table names quoted, the channel's condition is code, values are parameters
    params = [
        event.pk,
        root.crisis_id,
        channel.type,
        StaffProfile.DEFAULT_DEPARTMENT,
        StaffProfile.DEFAULT_LANGUAGE,
        status,
        now,
        now if channel.instant else None,
        *audience_params,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _insert_notices_python(event, root, channel, audience, page_size: int = 2000) -> int:
    """For a channel whose `accepts` cannot be said in SQL: page through the audience."""
    created = 0
    last_pk = 0
    users = audience.select_related("staff_profile").order_by("pk")
    while page := list(users.filter(pk__gt=last_pk)[:page_size]):
        last_pk = page[-1].pk
        now = timezone.now()
        rows = []
        for user in page:
            if not channel.accepts(user):
                continue
            language, department = profile_of(user)
            rows.append(
                Notice(
                    event=event,
                    crisis_id=root.crisis_id,
                    user=user,
                    channel=channel.type,
                    department=department,
                    language=language,
                    status=NoticeStatus.SENT if channel.instant else NoticeStatus.QUEUED,
                    sent_at=now if channel.instant else None,
                    created_at=now,
                    message_key=None if channel.instant else uuid.uuid4(),
                )
            )
        with transaction.atomic():
            Notice.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        created += len(rows)
    return created


def _enqueue_after_commit(event):
    """Delivery tasks for the event's queued channels, enqueued when the caller commits."""
    copies = _setting("CRISISCOMM_NOTIFY_PARALLELISM", 2)
    event_id = event.pk
    for channel in [*person_channels(), get_channel("webhook")]:
        if channel.instant:
            continue
        if Notice.objects.filter(
            event_id=event_id, channel=channel.type, status=NoticeStatus.QUEUED
        ).exists():
            n = copies if channel.type == "email" else 1
            transaction.on_commit(lambda c=channel.type, n=n: _enqueue_delivery(event_id, c, n))


# --- staff who arrive during a crisis ------------------------------------------------------------


def open_crisis_events() -> list[NoticeEvent]:
    """The current event of every open crisis: the latest declaration or extension of a crisis
    that no lift or stand-down followed. One indexed query on the (small) outbox."""
    latest = (
        NoticeEvent.objects.filter(
            parent__isnull=True, crisis_id__isnull=False, event__in=CRISIS_STATE_EVENTS
        )
        .order_by("crisis_id", "-pk")
        .distinct("crisis_id")
    )
    return [e for e in latest if e.event in OPEN_CRISIS_EVENTS]


def notices_for_arrivals(*, user_ids=None) -> dict:
    """Give the people who became staff after an open crisis's notices were materialised their
    notices of its current event (idempotent: the unique key). `user_ids` None: everyone active
    who has none yet (the periodic sweep, which also covers bulk imports that send no signal)."""
    created = {}
    for event in open_crisis_events():
        if event.materialised_at is None:
            continue  # its materialisation will include them
        audience = _active_users()
        if user_ids is not None:
            audience = audience.filter(pk__in=list(user_ids))
        else:
            audience = audience.exclude(
                pk__in=Notice.objects.filter(event=event, user__isnull=False).values("user_id")
            )
        rows = _materialise(event, audience)
        if any(rows.values()):
            with transaction.atomic():
                audit_record(
                    actor=None,
                    action="notification.materialise_arrivals",
                    obj=event,
                    details={"event": event.event, "crisis": event.crisis_id, "rows": rows},
                )
                _enqueue_after_commit(event)
            created[event.pk] = rows
    return created


def user_saved(*, user, created: bool, update_fields=None):
    """post_save of a user (see signals.py): a person created active, or activated, while a
    crisis is open gets its notices at once, in the same transaction as their account."""
    if not user.is_active:
        return
    if not created and update_fields is not None and "is_active" not in update_fields:
        return  # e.g. last_login on every sign-in
    if not created and not getattr(user, "_crisiscomm_was_inactive", True):
        return  # was already active: nothing new
    try:
        with transaction.atomic():
            notices_for_arrivals(user_ids=[user.pk])
    except Exception:  # never break the account change; the periodic sweep catches up
        log.exception("Could not give user %s the open crisis's notices; the sweep will", user.pk)


# --- superseded, deactivated: not sent ---------------------------------------------------------


def superseding_event(root: NoticeEvent) -> NoticeEvent | None:
    """The later lift or stand-down of the same crisis that makes `root`'s notices moot."""
    if root.crisis_id is None or root.event not in SUPERSEDED_BY_CLOSE:
        return None
    return (
        NoticeEvent.objects.filter(
            parent__isnull=True, crisis_id=root.crisis_id, event__in=CLOSING_EVENTS, pk__gt=root.pk
        )
        .order_by("pk")
        .first()
    )


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


def _claimable(now):
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
                    later = superseding_event(event.root)
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


def retry_delay(attempts: int) -> timedelta:
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
        next_attempt_at=None if final else now + retry_delay(attempts),
        claim_token=None,
    )
    return final


def _release(ids, token):
    Notice.objects.filter(pk__in=ids, claim_token=token, status=NoticeStatus.QUEUED).update(
        claim_token=None, claimed_at=None
    )


# --- relay and reminders (beat) ------------------------------------------------------------------


def notices_relay(*, now=None) -> dict:
    """Re-enqueue what the outbox still holds: events never materialised, notices due, rows a
    dead worker left `sending` past the send lease; free claims past their lease; seal the
    acknowledgements into the audit chain."""
    now = now or timezone.now()
    grace = timedelta(seconds=_setting("CRISISCOMM_NOTIFY_RELAY_GRACE", 30))
    with transaction.atomic():
        # A worker died while handing these over (a live one is bounded by the send timeout,
        # well inside the lease). It may have gone out: sent again with the same Message-ID.
        stale = Notice.objects.filter(status=NoticeStatus.SENDING, claimed_at__lt=now - sending_lease())
        stale_count = stale.update(
            status=NoticeStatus.QUEUED,
            error="Worker lost while handing this notice over; sent again with the same Message-ID.",
            claim_token=None,
            next_attempt_at=None,
        )
        if stale_count:
            audit_record(actor=None, action="notification.requeue_stale", details={"notices": stale_count})
        # Claims of a dead worker on rows it never reached: free them for the next worker.
        Notice.objects.filter(
            status=NoticeStatus.QUEUED, claim_token__isnull=False, claimed_at__lt=now - claim_lease()
        ).update(claim_token=None, claimed_at=None)
    pending_events = list(
        NoticeEvent.objects.filter(materialised_at__isnull=True, created_at__lte=now - grace).values_list(
            "pk", flat=True
        )
    )
    for event_id in pending_events:
        _enqueue_materialise(event_id)
    pairs = list(
        Notice.objects.filter(_claimable(now), created_at__lte=now - grace)
        .order_by()  # the model's ordering would make every row distinct
        .values_list("event_id", "channel")
        .distinct()
    )
    for event_id, channel in pairs:
        _enqueue_delivery(event_id, channel)
    sealed = acknowledgements_seal()
    return {
        "materialise": len(pending_events),
        "deliver": len(pairs),
        "expired": stale_count,
        "sealed": sealed,
    }


def reminders_start(*, now=None) -> list[NoticeEvent]:
    """Start the next scheduled reminder round of every event due for one: a child event whose
    notices (email and in-app, unique per person like any other) go to every active person who
    has not acknowledged. First, people who arrived since get the open crises' notices."""
    now = now or timezone.now()
    delay = settings.CRISISCOMM_REMINDER_DELAY
    rounds = _setting("CRISISCOMM_REMINDER_ROUNDS", 3)
    notices_for_arrivals()
    started = []
    candidates = NoticeEvent.objects.filter(
        parent__isnull=True, event__in=REMINDED_EVENTS, materialised_at__isnull=False
    )
    for root in candidates:
        # Rounds a DCO started by hand ("remind them now") do not use up the scheduled ones.
        scheduled = root.reminders.count() - root.reminders.filter(context__by="dco").count()
        if scheduled >= rounds:
            continue
        if now < root.created_at + delay * (scheduled + 1):
            continue
        superseded = (
            root.crisis_id is not None
            and NoticeEvent.objects.filter(
                parent__isnull=True,
                crisis_id=root.crisis_id,
                event__in=SUPERSEDING_EVENTS,
                pk__gt=root.pk,
            ).exists()
        )
        if superseded:
            continue  # a later event replaced this one: no more reminders about it
        child = _start_round(root, by="schedule", actor=None)
        if child is not None:
            started.append(child)
    return started


def _start_round(root, *, by: str, actor):
    with transaction.atomic():
        current = root.reminder_round
        updated = NoticeEvent.objects.filter(pk=root.pk, reminder_round=current).update(
            reminder_round=current + 1
        )
        if not updated:
            return None  # another beat (or a DCO) got there first
        next_round = current + 1
        root.reminder_round = next_round
        child = NoticeEvent.objects.create(
            event=root.event,
            crisis_id=root.crisis_id,
            context={"by": by},
            parent=root,
            reminder_round=next_round,
            actor=_actor_or_none(actor),
        )
        audit_record(
            actor=actor,
            action="notification.remind",
            obj=root,
            details={"event": root.event, "crisis": root.crisis_id, "round": next_round, "by": by},
        )
        child_id = child.pk
        transaction.on_commit(lambda pk=child_id: _enqueue_materialise(pk))
    return child


def reminders_send_now(*, actor, event: NoticeEvent) -> NoticeEvent:
    """ "Remind them now": a DCO starts a reminder round at once for everyone who has not
    acknowledged `event` (a root event), beside the scheduled rounds (which keep their times)."""
    if not has_role(actor, DCO):
        raise NotAllowedError("Only a communication directorate officer (dco) may send reminders.")
    root = event.root
    if superseding_event(root) is not None:
        raise ServiceError("This crisis is over: its notices are no longer sent.", field="event")
    for _attempt in range(3):
        child = _start_round(NoticeEvent.objects.get(pk=root.pk), by="dco", actor=actor)
        if child is not None:
            return child
    raise ServiceError("Another reminder round is starting; try again.", field="event", code="conflict")


# --- acknowledgement ---------------------------------------------------------------------------


@transaction.atomic
def notice_acknowledge(*, actor, notice: Notice, via: str = "api") -> int:
    """The person acknowledges an event: every one of their notices for it (all channels, all
    reminder rounds) is acknowledged. Acknowledging again changes nothing."""
    if notice.user_id is None or notice.user_id != getattr(actor, "pk", None):
        raise NotAllowedError("You can only acknowledge your own notices.")
    return _acknowledge(user=actor, root=notice.event.root, via=via)


def read_ack_link(*, token: str):
    """The signed one-click link's (root event, user), changing nothing (a GET, a mail
    scanner). Raises signing.SignatureExpired / signing.BadSignature, or ServiceError."""
    event_id, user_id = read_ack_token(token)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    event = NoticeEvent.objects.select_related("parent").filter(pk=event_id).first()
    if user is None or event is None or not Notice.objects.filter(event=event, user=user).exists():
        raise ServiceError("This acknowledgement link matches no notice.", field="token", code="not_found")
    return event.root, user


@transaction.atomic
def notice_acknowledge_link(*, token: str):
    """The POST of the signed link's "I acknowledge" button (no login). Returns (root event,
    user, newly acknowledged count)."""
    root, user = read_ack_link(token=token)
    return root, user, _acknowledge(user=user, root=root, via="link")


def _acknowledge(*, user, root: NoticeEvent, via: str) -> int:
    """No audit-chain lock here: the Acknowledgement row is the record, sealed into the chain
    in batches by the relay (acknowledgements_seal)."""
    event_ids = [root.pk, *root.reminders.values_list("pk", flat=True)]
    now = timezone.now()
    pending = Notice.objects.filter(user=user, event_id__in=event_ids, acknowledged_at__isnull=True)
    # Not yet sent: nothing left to tell them on that channel; sending/failed keep their status.
    count = pending.filter(status__in=[NoticeStatus.QUEUED, NoticeStatus.SENT]).update(
        status=NoticeStatus.ACKNOWLEDGED, acknowledged_at=now, claim_token=None
    )
    count += pending.update(acknowledged_at=now)
    if count:
        _language, department = profile_of(user)
        Acknowledgement.objects.bulk_create(
            [
                Acknowledgement(
                    event=root,
                    user=user,
                    crisis_id=root.crisis_id,
                    department=department,
                    via=via,
                    acknowledged_at=now,
                )
            ],
            ignore_conflicts=True,
        )
    return count


def acknowledgements_seal(*, limit: int = 1000) -> int:
    """Write the unsealed acknowledgements into the audit chain, `limit` per entry, oldest
    first: one chain lock per batch instead of one per person."""
    sealed = 0
    while True:
        with transaction.atomic():
            rows = list(
                Acknowledgement.objects.select_for_update(skip_locked=True)
                .filter(sealed_at__isnull=True)
                .select_related("user")
                .order_by("pk")[:limit]
            )
            if not rows:
                return sealed
            audit_record(
                actor=None,
                action="notification.acknowledge_batch",
                object_type="notifications.acknowledgement",
                object_id=f"{rows[0].pk}-{rows[-1].pk}",
                details={
                    "acknowledgements": [
                        {
                            "id": a.pk,
                            "user": a.user_id,
                            "username": a.user.get_username(),
                            "event": a.event_id,
                            "crisis": a.crisis_id,
                            "at": a.acknowledged_at.isoformat(),
                            "via": a.via,
                        }
                        for a in rows
                    ]
                },
            )
            Acknowledgement.objects.filter(pk__in=[a.pk for a in rows]).update(sealed_at=timezone.now())
            sealed += len(rows)


def acknowledged_at(*, user, root: NoticeEvent):
    return (
        Acknowledgement.objects.filter(user=user, event=root)
        .values_list("acknowledged_at", flat=True)
        .first()
    )


# --- team webhooks (DCO) -----------------------------------------------------------------------

WEBHOOK_FIELDS = ("name", "kind", "url", "department", "language", "is_active")


def _require_dco(actor):
    if not has_role(actor, DCO):
        raise NotAllowedError("Only a communication directorate officer (dco) may manage team webhooks.")


def _webhook_details(hook, changed=None):
    # The URL is a secret: the trail says that it changed, never what it is.
    details = {"name": hook.name, "kind": hook.kind, "department": hook.department}
    if changed is not None:
        details["changed"] = sorted(changed)
    return details


@transaction.atomic
def team_webhook_create(*, actor, **fields) -> TeamWebhook:
    _require_dco(actor)
    hook = TeamWebhook(**{k: v for k, v in fields.items() if k in WEBHOOK_FIELDS})
    outbound.validate_url(hook.url, field="url")  # outbound: no loopback/private targets
    hook.full_clean()
    hook.save()
    audit_record(actor=actor, action="notification.webhook_create", obj=hook, details=_webhook_details(hook))
    return hook


@transaction.atomic
def team_webhook_update(*, actor, webhook: TeamWebhook, **fields) -> TeamWebhook:
    _require_dco(actor)
    changed = [k for k, v in fields.items() if k in WEBHOOK_FIELDS and getattr(webhook, k) != v]
    for key in changed:
        setattr(webhook, key, fields[key])
    if changed:
        if "url" in changed:
            outbound.validate_url(webhook.url, field="url")  # outbound: no loopback/private targets
        webhook.full_clean()
        webhook.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="notification.webhook_update",
            obj=webhook,
            details=_webhook_details(webhook, changed),
        )
    return webhook


@transaction.atomic
def team_webhook_delete(*, actor, webhook: TeamWebhook) -> None:
    _require_dco(actor)
    audit_record(
        actor=actor, action="notification.webhook_delete", obj=webhook, details=_webhook_details(webhook)
    )
    # Deliveries already recorded stay: deactivate rather than cascade the history away.
    webhook.is_active = False
    webhook.save(update_fields=["is_active"])
