"""Acknowledgement: a person acknowledges an event once, for every channel and reminder round
(in the API, the inbox or through the signed one-click link); the relay seals the
acknowledgements into the audit chain in batches."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import profile_of
from apps.audit.services import audit_record
from apps.core.errors import NotAllowedError, ServiceError

from .messages import read_ack_token
from .models import Acknowledgement, Notice, NoticeEvent, NoticeStatus


def _own(user, notice: Notice) -> bool:
    return notice.user_id is not None and notice.user_id == getattr(user, "pk", None)


def notice_allowed_actions(*, user, notice: Notice) -> frozenset[str]:
    """What `user` may do with `notice`: acknowledge it if it is theirs (again is harmless).
    notice_acknowledge refuses the rest by the same rule."""
    return frozenset({"notification.acknowledge"}) if _own(user, notice) else frozenset()


@transaction.atomic
def notice_acknowledge(*, actor, notice: Notice, via: str = "api") -> int:
    """The person acknowledges an event: every one of their notices for it (all channels, all
    reminder rounds) is acknowledged. Acknowledging again changes nothing."""
    if not _own(actor, notice):
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
