"""Acknowledgement (signed one-click link and API) and reminder rounds."""

import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core import signing
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditChainHead, AuditEntry
from apps.audit.selectors import audit_chain_verify
from apps.core.errors import NotAllowedError
from apps.notifications import services
from apps.notifications.models import Acknowledgement, Notice, NoticeEvent, NoticeStatus
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
def test_one_click_link_shows_the_notice_and_only_the_button_acknowledges_every_channel(
    client, smtp_sink, settings
):
    """A GET (a mail scanner, a link preview) changes nothing; the POST of the page's button,
    with the signed token in the form, acknowledges without login; twice is harmless.
    Mutation: acknowledging on GET (the view calling notice_acknowledge_link for every method)
    -> this test fails."""
    settings.CRISISCOMM_BASE_URL = "https://crisis.example"
    alice, bob = make_staff(2, language=["en", "fr"])
    event = declare()
    mail = next(msg for rcpts, msg in smtp_sink.messages if rcpts == [alice.email])
    path = link_in(mail, "https://crisis.example")
    mine = Notice.objects.filter(event=event, user=alice)

    for _scanner in range(2):
        page = client.get(path)
        assert page.status_code == 200
        html = page.content.decode()
        assert "I acknowledge" in html and 'method="post"' in html
        assert html.index("I acknowledge") < html.index("Do not answer or deny claims")  # button first
        assert "/notices/ack/" not in html.split("I acknowledge")[1]  # the text, not the raw link
    assert not Notice.objects.filter(acknowledged_at__isnull=False).exists()
    assert not Acknowledgement.objects.exists()

    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    response = client.post(path, {"token": token})
    assert response.status_code == 200
    assert "Thank you, your acknowledgement is recorded" in response.content.decode()
    assert {n.channel for n in mine} == {"email", "inapp"}
    assert all(n.acknowledged_at and n.status == NoticeStatus.ACKNOWLEDGED for n in mine)
    assert not Notice.objects.filter(user=bob, acknowledged_at__isnull=False).exists()
    first_ack = mine.first().acknowledged_at

    again = client.post(path, {"token": token})
    assert again.status_code == 200
    assert "already acknowledged" in again.content.decode()
    assert "already acknowledged" in client.get(path).content.decode()
    assert mine.first().acknowledged_at == first_ack
    (ack,) = Acknowledgement.objects.all()
    assert (ack.user_id, ack.event_id, ack.via) == (alice.pk, event.pk, "link")
    assert ack.acknowledged_at == first_ack


@pytest.mark.django_db
def test_acknowledgements_take_no_chain_lock_and_the_relay_seals_them_in_one_entry(smtp_sink, settings):
    """Acknowledging writes the acknowledgement record only (the audit chain head is untouched);
    the relay then seals every unsealed acknowledgement into the chain in one entry saying who
    acknowledged what, when and how.
    Mutation: an audit_record per acknowledgement in _acknowledge -> this test fails.
    Mutation: acknowledgements_seal not called by the relay -> this test fails."""
    people = make_staff(5)
    event = declare()
    head_before = AuditChainHead.objects.get(pk=1).sequence
    for person in people[:4]:
        services.notice_acknowledge(actor=person, notice=Notice.objects.get(user=person, channel="inapp"))
    assert AuditChainHead.objects.get(pk=1).sequence == head_before
    assert Acknowledgement.objects.filter(sealed_at__isnull=True).count() == 4

    services.notices_relay()
    (entry,) = AuditEntry.objects.filter(action="notification.acknowledge_batch")
    listed = entry.details["acknowledgements"]
    assert sorted(a["username"] for a in listed) == sorted(p.username for p in people[:4])
    assert {a["event"] for a in listed} == {event.pk} and {a["via"] for a in listed} == {"api"}
    assert not Acknowledgement.objects.filter(sealed_at__isnull=True).exists()
    services.notices_relay()  # nothing new: no empty entry
    assert AuditEntry.objects.filter(action="notification.acknowledge_batch").count() == 1
    assert audit_chain_verify().valid


def move_signing_clock(monkeypatch, ahead: timedelta):
    """The clock signed links are checked against (django.core.signing reads time.time()),
    moved `ahead` for this test only: an expiry is tested without waiting for it."""
    real = time.time
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: real() + ahead.total_seconds()))


@pytest.mark.django_db
def test_tampered_and_expired_links_are_refused(client, smtp_sink, settings, monkeypatch):
    """Mutation: max_age dropped from read_ack_token's signing.loads -> the day-old link is
    accepted and this test fails."""
    settings.CRISISCOMM_ACK_LINK_MAX_AGE = timedelta(days=1)
    make_staff(1)
    declare()
    path = link_in(smtp_sink.messages[0][1], settings.CRISISCOMM_BASE_URL.rstrip("/"))
    assert client.get(path[:-3] + "xx/").status_code == 400
    assert client.post(path[:-3] + "xx/", {"token": "forged"}).status_code == 400
    move_signing_clock(monkeypatch, timedelta(days=1) - timedelta(minutes=1))
    assert client.get(path).status_code == 200  # a minute before it expires: still asked
    move_signing_clock(monkeypatch, timedelta(days=1, seconds=1))
    assert client.get(path).status_code == 410
    response = client.post(path, {"token": path.rstrip("/").rsplit("/", 1)[1]})
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


@pytest.mark.django_db
def test_a_person_is_offered_to_acknowledge_their_own_notices_only(smtp_sink):
    """notice_allowed_actions answers what notice_acknowledge does. Mutation: the ownership
    check dropped from notice_allowed_actions -> another's notice is "acknowledgeable" while the
    service refuses it (403) and this test fails."""
    alice, bob = make_staff(2)
    declare()
    notice = Notice.objects.get(user=alice, channel="inapp")
    assert services.notice_allowed_actions(user=alice, notice=notice) == {"notification.acknowledge"}
    assert services.notice_allowed_actions(user=bob, notice=notice) == frozenset()
    with pytest.raises(NotAllowedError):
        services.notice_acknowledge(actor=bob, notice=notice)
    assert services.notice_acknowledge(actor=alice, notice=notice) >= 1
