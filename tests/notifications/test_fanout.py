"""Fan-out to every active staff member on every channel, through a real SMTP sink and a real
HTTP server on loopback. Tasks run in-process: they are the real code Celery runs."""

import re

import pytest
from django.db import transaction

from apps.audit.models import AuditEntry
from apps.notifications import services
from apps.notifications.models import Notice, NoticeEvent, NoticeStatus
from tests.factories import UserFactory
from tests.notifications.factories import make_staff

DECLARED = {
    "title": "Fuite de données",
    "severity": 3,
    "declared_at": "2026-11-25T09:00:00+00:00",
    "freeze_until": "2026-11-26T09:00:00+00:00",
    "topics": ["data"],
    "spokespersons": ["Alice Martin", "Bob Durand"],
}


def run_fanout(event):
    """What the worker does after commit: materialise the rows, then send every channel."""
    services.event_materialise(event_id=event.pk)
    for channel in ("email", "webhook"):
        services.notices_deliver(event_id=event.pk, channel=channel)


def declare(actor=None, context=None, crisis_id=1):
    with transaction.atomic():
        return services.notify_event(
            event="crisis.declared", crisis_id=crisis_id, context=context or DECLARED, actor=actor
        )


def bodies(message):
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


@pytest.mark.django_db
def test_every_active_person_gets_one_mail_in_their_language_and_one_inbox_notice(smtp_sink, settings):
    settings.CRISISCOMM_BASE_URL = "https://crisis.agency.example"
    settings.CRISISCOMM_DCO_CONTACT = "dco-astreinte@agency.example"
    french = make_staff(3, prefix="fr", language="fr", department="Research")
    english = make_staff(2, prefix="en", language="en", department="Space")
    no_profile = UserFactory(username="noprofile")  # defaults: French, no department
    no_email = UserFactory(username="noemail", email="")
    UserFactory(username="gone", is_active=False)

    event = declare()
    run_fanout(event)

    per_rcpt = smtp_sink.per_recipient()
    expected = {u.email for u in [*french, *english, no_profile]}
    assert set(per_rcpt) == expected
    assert set(per_rcpt.values()) == {1}
    # In-app: every active person, including the one without an email address.
    inapp = Notice.objects.filter(event=event, channel="inapp")
    assert inapp.count() == 7
    assert inapp.filter(user=no_email).exists()
    assert not Notice.objects.filter(user__username="gone").exists()

    by_rcpt = {rcpts[0]: msg for rcpts, msg in smtp_sink.messages}
    fr_text, fr_html = bodies(by_rcpt[french[0].email])
    assert "Crise déclarée" in by_rcpt[french[0].email]["Subject"]
    assert "suspendue jusqu'au 26 novembre 2026 à 10:00" in fr_text  # Paris time
    assert "Ne répondez pas aux allégations" in fr_text
    assert "Alice Martin, Bob Durand" in fr_text
    assert "dco-astreinte@agency.example" in fr_text
    assert "https://crisis.agency.example/notices/ack/" in fr_text
    assert "<strong>Fuite de données</strong>" in fr_html
    en_text, _ = bodies(by_rcpt[english[0].email])
    assert "Crisis declared" in by_rcpt[english[0].email]["Subject"]
    assert "suspended until 26 November 2026 at 10:00" in en_text
    assert "Do not answer or deny claims" in en_text
    assert f"Hello {english[0].get_full_name()}" in en_text
    assert "Bonjour" in bodies(by_rcpt[no_profile.email])[0]

    assert Notice.objects.filter(event=event, channel="email", status=NoticeStatus.SENT).count() == 6
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"notification.record", "notification.materialise", "notification.deliver_batch"} <= actions


@pytest.mark.django_db
def test_running_the_fanout_again_sends_nothing_twice(smtp_sink):
    make_staff(4)
    event = declare()
    run_fanout(event)
    run_fanout(event)  # a retried task, a relay pass, a redelivered message
    services.notices_relay()
    assert set(smtp_sink.per_recipient().values()) == {1}
    assert len(smtp_sink.messages) == 4
    assert Notice.objects.filter(event=event).count() == 8


@pytest.mark.django_db
def test_team_webhooks_get_mattermost_slack_and_teams_payloads(smtp_sink, webhook_receiver, dco):
    make_staff(2)
    for kind, language in (("mattermost", "fr"), ("slack", "en"), ("teams", "en")):
        services.team_webhook_create(
            actor=dco,
            name=f"{kind} team",
            kind=kind,
            url=webhook_receiver.url(f"/hooks/{kind}"),
            department="Research",
            language=language,
        )
    services.team_webhook_create(
        actor=dco, name="off", kind="slack", url=webhook_receiver.url("/hooks/off"), is_active=False
    )

    event = declare()
    run_fanout(event)

    received = dict(webhook_receiver.requests)
    assert set(received) == {"/hooks/mattermost", "/hooks/slack", "/hooks/teams"}
    assert "Crise déclarée" in received["/hooks/mattermost"]["text"]
    assert "Do not answer or deny claims" in received["/hooks/slack"]["text"]
    teams = received["/hooks/teams"]  # Teams Workflows: an Adaptive Card, not a MessageCard
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"].startswith("Crisis declared")
    assert "Do not answer or deny claims" in card["body"][1]["text"]
    assert card["actions"][0]["type"] == "Action.OpenUrl" and card["actions"][0]["url"].startswith("http")
    # Every post carries its notice's idempotency key.
    keys = {str(n.message_key) for n in Notice.objects.filter(channel="webhook")}
    assert {h["Idempotency-Key"] for h in webhook_receiver.headers} == keys and len(keys) == 3
    assert Notice.objects.filter(channel="webhook", status=NoticeStatus.SENT).count() == 3


@pytest.mark.django_db
def test_a_failing_webhook_is_recorded_with_its_error_and_attempts(smtp_sink, webhook_receiver, dco):
    webhook_receiver.status = 503
    services.team_webhook_create(actor=dco, name="mm", kind="mattermost", url=webhook_receiver.url("/mm"))
    event = declare()
    run_fanout(event)
    notice = Notice.objects.get(channel="webhook")
    assert notice.status == NoticeStatus.QUEUED  # will be retried
    assert notice.attempts == 1
    assert "HTTP 503" in notice.error
    webhook_receiver.status = 404  # the team removed its hook: permanent
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=None)
    services.notices_deliver(event_id=event.pk, channel="webhook")
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.FAILED, 2)


@pytest.mark.django_db
def test_targeted_notices_reach_only_the_named_people(smtp_sink):
    reviewer, author, bystander = make_staff(3)
    with transaction.atomic():
        event = services.notify_users(
            event="statement.submitted",
            user_ids=[reviewer.pk],
            context={"title": "Communiqué n°1"},
            crisis_id=5,
        )
    run_fanout(event)
    assert set(smtp_sink.per_recipient()) == {reviewer.email}
    assert "attend votre relecture" in bodies(smtp_sink.messages[0][1])[0]
    assert not Notice.objects.filter(user__in=[author, bystander]).exists()

    smtp_sink.messages.clear()
    with transaction.atomic():
        decided = services.notify_users(
            event="statement.decided",
            user_ids=[author.pk],
            context={"title": "Communiqué n°1", "verdict": "approved"},
            crisis_id=5,
        )
    run_fanout(decided)
    assert set(smtp_sink.per_recipient()) == {author.email}
    assert "Décision sur votre déclaration" in str(smtp_sink.messages[0][1]["Subject"])
    assert ": approuvée." in bodies(smtp_sink.messages[0][1])[0]


@pytest.mark.django_db
def test_lift_request_goes_to_the_dcos_only(smtp_sink, dco, dco2, employee):
    with transaction.atomic():
        event = services.notify_event(
            event="crisis.lift_requested", crisis_id=3, context={"title": "X"}, actor=dco
        )
    run_fanout(event)
    assert set(smtp_sink.per_recipient()) == {dco.email, dco2.email}


@pytest.mark.django_db
def test_notify_event_writes_only_the_outbox_row_in_the_callers_transaction(employee):
    make_staff(3)
    with transaction.atomic():
        event = services.notify_event(event="crisis.declared", crisis_id=9, context=DECLARED)
        # Rolled back with the caller: no notice survives a failed declaration.
        assert NoticeEvent.objects.filter(pk=event.pk).exists()
        transaction.set_rollback(True)
    assert not NoticeEvent.objects.filter(pk=event.pk).exists()
    event = declare()
    assert Notice.objects.count() == 0  # rows come from the worker, after commit
    assert event.materialised_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("event", "language", "subject", "says", "forbids"),
    [
        ("crisis.extended", "en", "Crisis freeze extended until 26 November 2026", "has been extended", True),
        ("crisis.extended", "fr", "Gel de crise prolongé jusqu'au 26 novembre 2026", "est prolongé", True),
        ("crisis.lifted", "en", "Crisis over", "the freeze is lifted", False),
        ("crisis.lifted", "fr", "Fin de crise", "le gel est levé", False),
        ("crisis.stood_down", "en", "Crisis stood down", "declared in error", False),
        ("crisis.stood_down", "fr", "Crise annulée", "déclarée par erreur", False),
    ],
)
def test_each_crisis_event_has_its_message_in_both_languages(event, language, subject, says, forbids):
    from apps.notifications.messages import render_template

    notice_event = NoticeEvent.objects.create(event=event, crisis_id=1, context=DECLARED)
    template = render_template(notice_event, language)
    assert template.subject.startswith(subject)
    assert says in template.text
    assert ("Do not answer" in template.text or "Ne répondez pas" in template.text) is forbids
    assert says.split()[0] in template.html


ISO_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize(
    "event",
    ["crisis.declared", "crisis.extended", "crisis.lifted", "crisis.stood_down", "crisis.lift_requested",
     "crisis.stand_down_requested"],
)  # fmt: skip
def test_notices_show_local_times_never_iso_strings(event, language):
    """The context carries ISO strings; the reader sees their language's format in the
    service's time zone (Paris: 09:00 UTC is 10:00)."""
    from apps.notifications.messages import render_template

    notice_event = NoticeEvent.objects.create(event=event, crisis_id=1, context=DECLARED)
    template = render_template(notice_event, language)
    for part in (template.subject, template.text, template.html):
        assert not ISO_TIMESTAMP.search(part), part
    if event in ("crisis.declared", "crisis.extended"):
        assert "10:00" in template.text and "2026" in template.text
