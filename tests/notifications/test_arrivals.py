"""Who is told: people who become staff while a crisis is open, reminders to every staff member
who has not acknowledged; notices superseded by a lift or stand-down not sent; people and
webhooks deactivated skipped; a webhook that timed out after posting not posted again."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from apps.notifications import services
from apps.notifications.models import Notice, NoticeStatus
from tests.factories import UserFactory
from tests.notifications.factories import make_staff

CONTEXT = {"title": "Incident", "freeze_until": "2026-11-26T09:00:00+00:00"}


def record(event="crisis.declared", crisis_id=1):
    with transaction.atomic():
        return services.notify_event(event=event, crisis_id=crisis_id, context=CONTEXT)


def declare(crisis_id=1):
    event = record(crisis_id=crisis_id)
    services.event_materialise(event_id=event.pk)
    return event


def deliver(event):
    return services.notices_deliver(event_id=event.pk, channel="email")


@pytest.mark.django_db
def test_a_person_created_or_activated_during_a_crisis_gets_its_notices_at_once(smtp_sink):
    """First SSO login (a user created), an account activated: their inbox notice exists when
    the account is saved, and their mail goes out with the event's next delivery.
    Mutation: the post_save receiver not connected (signals.py not imported) -> this test fails."""
    make_staff(2)
    event = declare()
    deliver(event)
    newcomer = UserFactory(username="newcomer")
    dormant = UserFactory(username="dormant", is_active=False)
    assert Notice.objects.filter(event=event, user=newcomer, channel="inapp").exists()
    assert not Notice.objects.filter(user=dormant).exists()

    dormant.is_active = True
    dormant.save()
    assert Notice.objects.filter(event=event, user=dormant, channel="inapp").exists()
    dormant.save()  # saved again: nothing new
    assert Notice.objects.filter(user=dormant).count() == 2

    assert deliver(event)["sent"] == 2
    assert set(smtp_sink.per_recipient()) >= {newcomer.email, dormant.email}
    assert set(smtp_sink.per_recipient().values()) == {1}


@pytest.mark.django_db
def test_nobody_arriving_outside_a_crisis_or_after_it_is_notified(smtp_sink):
    UserFactory(username="before")
    assert not Notice.objects.exists()
    declare(crisis_id=2)
    record(event="crisis.lifted", crisis_id=2)
    late = UserFactory(username="after-the-lift")
    assert not Notice.objects.filter(user=late).exists()


@pytest.mark.django_db
def test_bulk_imported_staff_are_caught_up_by_the_sweep_and_reminders_reach_every_non_acknowledger(
    smtp_sink, settings
):
    """An import that bulk-inserts sends no signal: the reminder beat's sweep gives them the
    crisis's notices, and the reminder round goes to everyone active who has not acknowledged.
    Mutation: the sweep (notices_for_arrivals) not called by reminders_start -> this test fails."""
    settings.CRISISCOMM_REMINDER_DELAY = timedelta(hours=2)
    alice, bob = make_staff(2)
    event = declare()
    deliver(event)
    services.notice_acknowledge(actor=alice, notice=Notice.objects.get(user=alice, channel="inapp"))
    imported = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"imported{i}", email=f"imported{i}@agency.example") for i in range(3)]
    )
    assert not Notice.objects.filter(user__username__startswith="imported").exists()

    (round_one,) = services.reminders_start(now=event.created_at + timedelta(hours=2, minutes=1))
    assert (
        Notice.objects.filter(event=event, user__username__startswith="imported", channel="inapp").count()
        == 3
    )
    services.event_materialise(event_id=round_one.pk)
    reminded = set(
        Notice.objects.filter(event=round_one, channel="email").values_list("user__email", flat=True)
    )
    assert reminded == {bob.email, *(u.email for u in imported)}


@pytest.mark.django_db
def test_a_stand_down_cancels_the_declarations_unsent_mails(smtp_sink, dco):
    """The stand-down is recorded while the declaration's mails wait: they are never sent (the
    stand-down's own are).
    Mutation: notices_deliver without the superseding_event check -> this test fails."""
    make_staff(3)  # and the dco
    declared = declare(crisis_id=3)
    stood_down = record(event="crisis.stood_down", crisis_id=3)
    services.event_materialise(event_id=stood_down.pk)

    result = deliver(declared)
    assert (result["sent"], result["cancelled"]) == (0, 4)
    cancelled = Notice.objects.filter(event=declared, channel="email")
    assert set(cancelled.values_list("status", flat=True)) == {NoticeStatus.CANCELLED}
    assert "superseded by crisis.stood_down" in cancelled.first().error
    assert deliver(stood_down)["sent"] == 4
    subjects = {str(m["Subject"]) for _r, m in smtp_sink.messages}
    assert len(smtp_sink.messages) == 4 and all("annulée" in s for s in subjects)
    with pytest.raises(Exception, match="over"):
        services.reminders_send_now(actor=dco, event=declared)


@pytest.mark.django_db
def test_people_deactivated_mid_fanout_are_skipped(smtp_sink):
    """Mutation: the is_active check before each send (_why_not_send) removed -> this test fails."""
    staying, leaving = make_staff(2)
    event = declare()
    get_user_model().objects.filter(pk=leaving.pk).update(is_active=False)
    result = deliver(event)
    assert (result["sent"], result["cancelled"]) == (1, 1)
    assert set(smtp_sink.per_recipient()) == {staying.email}
    notice = Notice.objects.get(user=leaving, channel="email")
    assert notice.status == NoticeStatus.CANCELLED and "deactivated" in notice.error


@pytest.mark.django_db
def test_a_webhook_deactivated_after_materialising_gets_nothing(smtp_sink, webhook_receiver, dco):
    hook = services.team_webhook_create(
        actor=dco, name="mm", kind="mattermost", url=webhook_receiver.url("/mm")
    )
    event = declare()
    services.team_webhook_update(actor=dco, webhook=hook, data={"is_active": False})
    result = services.notices_deliver(event_id=event.pk, channel="webhook")
    assert result["cancelled"] == 1 and webhook_receiver.requests == []


@pytest.mark.django_db
def test_a_webhook_that_answers_too_late_is_not_posted_again(smtp_sink, webhook_receiver, dco, settings):
    """The far end took the post, then did not answer within the timeout: recorded as sent with
    the doubt, never re-posted (these endpoints do not honour the Idempotency-Key).
    Mutation: a read timeout treated as a transient failure -> this test fails (two posts)."""
    settings.CRISISCOMM_SEND_TIMEOUT = 0.5
    settings.EMAIL_TIMEOUT = None
    webhook_receiver.stall = 2.0
    services.team_webhook_create(actor=dco, name="mm", kind="mattermost", url=webhook_receiver.url("/mm"))
    event = declare()
    services.notices_deliver(event_id=event.pk, channel="webhook")
    notice = Notice.objects.get(channel="webhook")
    assert notice.status == NoticeStatus.SENT and "not posted again" in notice.error
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=None)
    services.notices_relay()
    services.notices_deliver(event_id=event.pk, channel="webhook")
    assert len(webhook_receiver.requests) == 1
    assert webhook_receiver.headers[0]["Idempotency-Key"] == str(notice.message_key)
