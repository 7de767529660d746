"""SMTP replies as RFC 5321 means them, against a real SMTP server on loopback: 4yz (and a
lost connection, 421) is tried again later, 5yz is final, each recipient has its own outcome,
and the relay's rate is respected."""

import smtplib
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.notifications import services
from apps.notifications.channels import _recipient_errors
from apps.notifications.models import Notice, NoticeStatus
from tests.notifications.factories import make_staff

CONTEXT = {"title": "Incident", "freeze_until": "2026-11-26T09:00:00+00:00"}


def declare():
    with transaction.atomic():
        event = services.notify_event(event="crisis.declared", crisis_id=1, context=CONTEXT)
    services.event_materialise(event_id=event.pk)
    return event


def deliver(event):
    return services.notices_deliver(event_id=event.pk, channel="email")


def time_passes(event):
    """The back-off is over: what a later relay pass finds due."""
    Notice.objects.filter(event=event, next_attempt_at__isnull=False).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_greylisting_451_is_retried_within_a_minute_and_everyone_is_mailed_once(smtp_sink):
    """Mutation: treating every RCPT refusal as permanent (the old `permanent=True`) -> this
    test fails (the greylisted people are marked failed and never mailed)."""
    users = make_staff(6)
    greylisted = {u.email for u in users[:4]}
    smtp_sink.handler.greylist = set(greylisted)
    event = declare()

    first = deliver(event)
    assert (first["sent"], first["retry"], first["failed"]) == (2, 4, 0)  # no abort: the relay is up
    waiting = Notice.objects.filter(event=event, channel="email", status=NoticeStatus.QUEUED)
    assert {n.user.email for n in waiting} == greylisted
    for notice in waiting:
        assert notice.attempts == 1 and "451" in notice.error
        assert timedelta(0) < notice.next_attempt_at - timezone.now() <= timedelta(minutes=1)
    assert deliver(event)["sent"] == 0  # still backing off

    time_passes(event)
    assert deliver(event)["sent"] == 4
    assert Counter(smtp_sink.per_recipient()) == Counter({u.email: 1 for u in users})
    assert not Notice.objects.filter(channel="email").exclude(status=NoticeStatus.SENT).exists()


@pytest.mark.django_db
def test_a_5xx_refusal_is_final_after_one_attempt_and_the_others_are_mailed(smtp_sink):
    users = make_staff(3)
    smtp_sink.handler.refuse = {users[1].email: "550 5.1.1 No such user"}
    event = declare()
    result = deliver(event)
    assert (result["sent"], result["failed"], result["retry"]) == (2, 1, 0)
    refused = Notice.objects.get(user=users[1], channel="email")
    assert (refused.status, refused.attempts, refused.next_attempt_at) == (NoticeStatus.FAILED, 1, None)
    assert "550" in refused.error
    assert set(smtp_sink.per_recipient()) == {users[0].email, users[2].email}


@pytest.mark.django_db
def test_a_421_closes_the_connection_and_the_mail_is_retried_on_a_new_one(smtp_sink):
    users = make_staff(3)
    smtp_sink.handler.refuse = {users[0].email: "421 4.3.2 Service shutting down"}
    event = declare()
    result = deliver(event)
    assert result["retry"] == 1 and result["sent"] == 2
    notice = Notice.objects.get(user=users[0], channel="email")
    assert notice.status == NoticeStatus.QUEUED and "421" in notice.error
    smtp_sink.handler.refuse = {}
    time_passes(event)
    assert deliver(event)["sent"] == 1
    assert set(smtp_sink.per_recipient().values()) == {1} and len(smtp_sink.messages) == 3


@pytest.mark.django_db
def test_transient_refusals_are_retried_for_24_hours_then_given_up(smtp_sink, settings):
    """The back-off grows (30 s, 1 min, 2 min … up to an hour) and the notice is only given up
    once a day has passed since it was created.
    Mutation: a fixed attempt limit (the old CRISISCOMM_NOTIFY_MAX_ATTEMPTS = 5) -> this test
    fails (the sixth refusal would be final after minutes, not a day)."""
    (user,) = make_staff(1)
    smtp_sink.handler.refuse = {user.email: "452 4.2.2 Mailbox full"}
    event = declare()
    delays = []
    for _ in range(8):
        deliver(event)
        notice = Notice.objects.get(user=user, channel="email")
        assert notice.status == NoticeStatus.QUEUED
        delays.append(round((notice.next_attempt_at - timezone.now()).total_seconds() / 30))
        time_passes(event)
    assert delays == [1, 2, 4, 8, 16, 32, 64, 120]  # in units of 30 s, capped at an hour
    Notice.objects.filter(pk=notice.pk).update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    deliver(event)
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.FAILED, 9)


def test_one_transaction_with_several_recipients_gives_each_its_own_outcome(smtp_sink):
    """sendmail() to three recipients where one is greylisted and one refused for good: the
    accepted one is delivered, and each refusal keeps its own class."""
    smtp_sink.handler.greylist = {"later@agency.example"}
    smtp_sink.handler.refuse = {"gone@agency.example": "550 5.1.1 No such user"}
    with smtplib.SMTP("127.0.0.1", smtp_sink.port, timeout=5) as smtp:
        refused = smtp.sendmail(
            "dco@crisiscomm.invalid",
            ["ok@agency.example", "later@agency.example", "gone@agency.example"],
            b"Subject: x\r\n\r\nx\r\n",
        )
    outcomes = {rcpt: error.permanent for rcpt, error in _recipient_errors(refused).items()}
    assert outcomes == {"later@agency.example": False, "gone@agency.example": True}
    assert smtp_sink.per_recipient() == Counter({"ok@agency.example": 1})


@pytest.mark.django_db
def test_the_send_rate_to_the_relay_is_bounded(smtp_sink, settings):
    """CRISISCOMM_SMTP_RATE = 10: no second sees more than 10 messages accepted.
    Mutation: the channel's pace() not called before each send -> this test fails."""
    settings.CRISISCOMM_SMTP_RATE = 10
    users = make_staff(25)
    event = declare()
    assert deliver(event)["sent"] == 25
    times = smtp_sink.handler.times
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 11  # 10 per clock second; a window straddling two seconds may see one more
    assert times[-1] - times[0] >= 1.5
    assert len(smtp_sink.per_recipient()) == len(users)


@pytest.mark.django_db
def test_without_a_rate_the_mails_go_out_even_with_the_shared_cache_down(smtp_sink, settings):
    """No CRISISCOMM_SMTP_RATE: the rate limiter makes no round trip to the shared cache per
    mail, so a cache (Redis) that is down costs the fan-out nothing.
    Mutation: a cache read added to RateLimit.wait before its `rate <= 0` early return -> this
    test fails (ConnectionError); the early return removed -> this test fails too."""
    from tests.notifications.conftest import free_port

    settings.CRISISCOMM_SMTP_RATE = 0
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }
    users = make_staff(5)
    event = declare()
    assert deliver(event)["sent"] == 5
    assert smtp_sink.per_recipient() == Counter({u.email: 1 for u in users})
