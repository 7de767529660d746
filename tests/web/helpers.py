"""Data for the web tests, built through the real services (as a DCO would)."""

from datetime import timedelta

from django.utils import timezone

from apps.crises import services as crisis_services
from apps.posts import services as post_services


def make_account(dco, handle="@agency", network="mastodon"):
    return post_services.social_account_create(
        actor=dco, network=network, handle=handle, connector="manual", config={"assignee": dco.username}
    )


def make_posts(dco, account, n=3, *, start_in=timedelta(hours=30)):
    now = timezone.now()
    return [
        post_services.post_create(
            actor=dco,
            account=account,
            body=f"Ordinary post {i}",
            scheduled_at=now + start_in + timedelta(hours=i),
        )
        for i in range(n)
    ]


def declare(dco, title="Launch anomaly", topics=("launch",)):
    return crisis_services.crisis_declare(actor=dco, title=title, summary="", severity=2, topics=list(topics))


def default_chain():
    """The chain the statements migration installs (expert review, then DCO approval). Transactional
    tests flush the tables, migration data included, so it is put back here when missing."""
    from apps.statements.models import ChainStep, ValidationChain

    chain, created = ValidationChain.objects.get_or_create(
        is_default=True, defaults={"name": "Expert review then DCO approval"}
    )
    if created:
        ChainStep.objects.create(chain=chain, order=1, name="Expert review", role="expert")
        ChainStep.objects.create(chain=chain, order=2, name="DCO approval", role="dco")
    return chain


def run_notice_worker():
    """What the notifications worker does after a declaration commits: materialise every pending
    event's notices and deliver the in-app ones (the same services the Celery tasks call)."""
    from apps.notifications.models import NoticeEvent
    from apps.notifications.services import event_materialise, notices_deliver

    for event in NoticeEvent.objects.filter(materialised_at__isnull=True):
        event_materialise(event_id=event.pk)
        notices_deliver(event_id=event.pk, channel="inapp")


def move_freeze_to_the_past(crisis, *, by=timedelta(minutes=1)):
    """Operators (and tests) move freeze_until; the database keeps it 24 h after the declaration,
    so the declaration moves back with it."""
    from apps.crises.models import Crisis

    now = timezone.now()
    Crisis.objects.filter(pk=crisis.pk).update(
        declared_at=now - by - timedelta(hours=24), freeze_until=now - by
    )
    crisis.refresh_from_db()
