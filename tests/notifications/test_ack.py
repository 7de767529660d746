"""Acknowledgement (signed one-click link and API) and reminder rounds."""

import re
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.notifications import services
from apps.notifications.models import Notice, NoticeEvent, NoticeStatus
from tests.notifications.factories import make_staff

CONTEXT = {"title": "Incident", "freeze_until": "2026-11-26T09:00:00+00:00"}


def declare(crisis_id=1, event="crisis.declared"):
    with transaction.atomic():
        notice_event = services.notify_event(event=event, crisis_id=crisis_id, context=CONTEXT)
    services.event_materialise(event_id=notice_event.pk)
    services.notices_deliver(event_id=notice_event.pk, channel="email")
    return notice_event


def link_in(message, base):
    text = message.get_body(preferencelist=("plain",)).get_content()
    url = re.search(re.escape(base) + r"(/notices/ack/[^\s]+/)", text)
    assert url, text
    return url.group(1)


@pytest.mark.django_db
def test_one_click_link_acknowledges_every_channel_without_login_and_twice_is_harmless(
    client, smtp_sink, settings
):
    settings.CRISISCOMM_BASE_URL = "https://crisis.example"
    alice, bob = make_staff(2, language=["en", "fr"])
    event = declare()
    mail = next(msg for rcpts, msg in smtp_sink.messages if rcpts == [alice.email])
    path = link_in(mail, "https://crisis.example")

    response = client.get(path)
    assert response.status_code == 200
    assert "Thank you, your acknowledgement is recorded" in response.content.decode()
    mine = Notice.objects.filter(event=event, user=alice)
    assert {n.channel for n in mine} == {"email", "inapp"}
    assert all(n.acknowledged_at and n.status == NoticeStatus.ACKNOWLEDGED for n in mine)
    assert not Notice.objects.filter(user=bob, acknowledged_at__isnull=False).exists()
    first_ack = mine.first().acknowledged_at

    again = client.get(path)
    assert again.status_code == 200
    assert "already acknowledged" in again.content.decode()
    assert mine.first().acknowledged_at == first_ack
    entries = AuditEntry.objects.filter(action="notification.acknowledge")
    assert entries.count() == 1
    assert entries.get().details["via"] == "link"
    assert entries.get().actor_id == alice.pk


@pytest.mark.django_db
def test_tampered_and_expired_links_are_refused(client, smtp_sink, settings):
    make_staff(1)
    declare()
    path = link_in(smtp_sink.messages[0][1], settings.CRISISCOMM_BASE_URL.rstrip("/"))
    assert client.get(path[:-3] + "xx/").status_code == 400
    settings.CRISISCOMM_ACK_LINK_MAX_AGE = timedelta(seconds=1)
    time.sleep(2.1)
    response = client.get(path)
    assert response.status_code == 410
    assert not Notice.objects.filter(acknowledged_at__isnull=False).exists()


@pytest.mark.django_db
def test_acknowledging_before_the_mail_goes_out_means_the_mail_is_not_sent(smtp_sink, api):
    alice, bob = make_staff(2)
    with transaction.atomic():
        event = services.notify_event(event="crisis.declared", crisis_id=1, context=CONTEXT)
    services.event_materialise(event_id=event.pk)  # the inbox shows it; mail not yet sent
    inapp = Notice.objects.get(user=alice, channel="inapp")
    response = api.as_user(alice).post(f"/api/v1/notifications/{inapp.pk}/acknowledge/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "acknowledged"
    services.notices_deliver(event_id=event.pk, channel="email")
    assert set(smtp_sink.per_recipient()) == {bob.email}
    assert Notice.objects.get(user=alice, channel="email").status == NoticeStatus.ACKNOWLEDGED


@pytest.mark.django_db
def test_reminders_go_once_per_round_to_those_who_have_not_acknowledged(smtp_sink, settings, api):
    settings.CRISISCOMM_REMINDER_DELAY = timedelta(hours=2)
    settings.CRISISCOMM_REMINDER_ROUNDS = 2
    alice, bob, carol = make_staff(3)
    event = declare()
    services.notice_acknowledge(actor=alice, notice=Notice.objects.get(user=alice, channel="inapp"))
    smtp_sink.messages.clear()

    assert services.reminders_start() == []  # too early
    later = event.created_at + timedelta(hours=2, minutes=1)
    (first_round,) = services.reminders_start(now=later)
    assert services.reminders_start(now=later) == []  # the next beat tick: no second round
    services.event_materialise(event_id=first_round.pk)
    services.event_materialise(event_id=first_round.pk)  # a retried task adds nothing
    services.notices_deliver(event_id=first_round.pk, channel="email")
    assert sorted(smtp_sink.per_recipient().items()) == [(bob.email, 1), (carol.email, 1)]
    subject = str(smtp_sink.messages[0][1]["Subject"]).strip()
    assert subject.startswith("Rappel : Crise déclarée")

    # Bob acknowledges from the reminder: that acknowledges the declaration on every channel.
    reminder_notice = Notice.objects.get(user=bob, event=first_round, channel="inapp")
    response = api.as_user(bob).post(f"/api/v1/notifications/{reminder_notice.pk}/acknowledge/")
    assert response.status_code == 200
    assert not Notice.objects.filter(user=bob, acknowledged_at__isnull=True).exists()

    smtp_sink.messages.clear()
    (second_round,) = services.reminders_start(now=event.created_at + timedelta(hours=4, minutes=1))
    services.event_materialise(event_id=second_round.pk)
    services.notices_deliver(event_id=second_round.pk, channel="email")
    assert list(smtp_sink.per_recipient().items()) == [(carol.email, 1)]
    assert services.reminders_start(now=event.created_at + timedelta(days=1)) == []  # rounds used up
    assert AuditEntry.objects.filter(action="notification.remind").count() == 2


@pytest.mark.django_db
def test_no_reminder_about_a_declaration_once_the_crisis_is_lifted(smtp_sink, settings):
    make_staff(2)
    event = declare(crisis_id=4)
    declare(crisis_id=4, event="crisis.lifted")
    later = timezone.now() + settings.CRISISCOMM_REMINDER_DELAY * 2
    assert services.reminders_start(now=later) == []
    assert not NoticeEvent.objects.filter(parent=event).exists()
