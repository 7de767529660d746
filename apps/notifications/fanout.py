"""Fan-out: the notice rows of an event (one per person and channel, one per team webhook),
created in bulk and idempotently; and the same for people who arrive while a crisis is open."""

import logging
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import StaffProfile, profile_of
from apps.accounts.roles import DCO
from apps.audit.services import audit_record

from .channels import get_channel, person_channels
from .models import Acknowledgement, Notice, NoticeEvent, NoticeStatus, TeamWebhook
from .outbox import DCO_ONLY_EVENTS, enqueue_delivery, open_crisis_events

log = logging.getLogger(__name__)


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
        enqueue_after_commit(event=event)
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


def enqueue_after_commit(*, event):
    """Delivery tasks for the event's queued channels, enqueued when the caller commits."""
    copies = getattr(settings, "CRISISCOMM_NOTIFY_PARALLELISM", 2)
    event_id = event.pk
    for channel in [*person_channels(), get_channel("webhook")]:
        if channel.instant:
            continue
        if Notice.objects.filter(
            event_id=event_id, channel=channel.type, status=NoticeStatus.QUEUED
        ).exists():
            n = copies if channel.type == "email" else 1
            transaction.on_commit(
                lambda c=channel.type, n=n: enqueue_delivery(event_id=event_id, channel=c, copies=n)
            )


# --- staff who arrive during a crisis ------------------------------------------------------------


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
                enqueue_after_commit(event=event)
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
