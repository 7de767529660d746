"""Figures per event by people, served from a short cache; who has not acknowledged (API and
CSV); "remind them now"; the Message-ID."""

import csv
import io
import re

import pytest
from django.db import transaction

from apps.audit.models import AuditEntry
from apps.core.errors import NotAllowedError, ServiceError
from apps.notifications import services
from apps.notifications.channels import EmailChannel
from apps.notifications.models import Notice, NoticeEvent
from apps.notifications.selectors import notice_figures
from tests.notifications.factories import make_staff

CONTEXT = {"title": "Incident", "freeze_until": "2026-11-26T09:00:00+00:00"}


def record(event="crisis.declared", crisis_id=1):
    with transaction.atomic():
        notice_event = services.notify_event(event=event, crisis_id=crisis_id, context=CONTEXT)
    services.event_materialise(event_id=notice_event.pk)
    services.notices_deliver(event_id=notice_event.pk, channel="email")
    return notice_event


def ack(person, event):
    services.notice_acknowledge(
        actor=person, notice=Notice.objects.get(user=person, event=event, channel="inapp")
    )


@pytest.mark.django_db
def test_figures_are_per_event_current_by_default_and_ignore_other_events(smtp_sink):
    """After an extension nobody acknowledged the control room says 0 of 4, not 4 of 4;
    statement notices of the crisis are not counted; the owners' notice can be included.
    Mutation: figures filtered by crisis only (not by event) -> this test fails."""
    people = make_staff(4)
    declared = record()
    for person in people:
        ack(person, declared)
    with transaction.atomic():
        services.notify_users(event="statement.submitted", user_ids=[people[0].pk], context={}, crisis_id=1)
    extended = record(event="crisis.extended")
    with transaction.atomic():
        owners = services.notify_users(event="watch.owners", user_ids=[people[1].pk], context={}, crisis_id=1)
    services.event_materialise(event_id=owners.pk)

    current = notice_figures(crisis_id=1)
    assert current["event"]["id"] == extended.pk
    assert (current["total"], current["acknowledged"]) == (4, 0)
    assert [e["id"] for e in current["events"]] == [extended.pk, declared.pk]
    assert current["by_channel"]["email"]["total"] == 4  # the statement notice is not counted
    earlier = notice_figures(crisis_id=1, event_id=declared.pk)
    assert (earlier["total"], earlier["acknowledged"]) == (4, 4)
    with_owners = notice_figures(crisis_id=1, include=("watch.owners",))
    assert with_owners["by_channel"]["inapp"]["total"] == 5 and with_owners["total"] == 4
    assert notice_figures(crisis_id=1, event_id=owners.pk)["total"] == 1  # any event, selectable
    assert notice_figures(crisis_id=2, event_id=owners.pk)["event"] is None  # of that crisis only


@pytest.mark.django_db
def test_figures_refreshes_read_the_short_cache(smtp_sink, settings, django_assert_num_queries):
    """Polled every few seconds by every open control room, a large event's figures cost one
    computation per CRISISCOMM_FIGURES_TTL, whatever the staff: a refresh in between runs one
    query (the event, on the small outbox table), not the counts. A small event's figures are
    exact at once.
    Mutation: notice_figures without the cache -> this test fails."""
    settings.CRISISCOMM_FIGURES_TTL = 60
    people = make_staff(3)
    event = record(crisis_id=11)
    assert notice_figures(crisis_id=11)["acknowledged"] == 0
    ack(people[0], event)
    assert notice_figures(crisis_id=11)["acknowledged"] == 1  # small: computed on every read

    settings.CRISISCOMM_FIGURES_CACHE_FROM = 1  # as if it were a ministry's crisis
    first = notice_figures(crisis_id=11)
    ack(people[1], event)
    with django_assert_num_queries(5):
        for _ in range(5):
            assert notice_figures(crisis_id=11) == first  # served from the cache
    settings.CRISISCOMM_FIGURES_TTL = 0
    assert notice_figures(crisis_id=11)["acknowledged"] == 2


@pytest.mark.django_db
def test_the_people_who_have_not_acknowledged_by_name_department_and_channel(api, smtp_sink, dco, employee):
    """Mutation: the acknowledged people not excluded from people_not_acknowledged -> this test
    fails."""
    research = make_staff(2, prefix="r", department="Research")
    space = make_staff(2, prefix="s", department="Space")
    event = record(crisis_id=5)
    ack(research[0], event)

    client = api.as_user(dco)
    rows = client.get("/api/v1/notifications/pending/?crisis=5&department=Research").json()["results"]
    assert [r["username"] for r in rows] == [research[1].username]
    (row,) = rows
    assert row["department"] == "Research" and row["channels"] == ["email", "inapp"]
    assert row["last_attempt"] and row["name"] == research[1].get_full_name()
    everyone = client.get("/api/v1/notifications/pending/?crisis=5").json()
    assert {r["username"] for r in everyone["results"]} == {
        research[1].username,
        *(u.username for u in space),
        dco.username,
        employee.username,
    }

    response = client.get("/api/v1/notifications/pending-csv/?crisis=5&department=Space")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(body)))
    assert lines[0] == ["user", "username", "name", "department", "channels", "last_attempt"]
    assert sorted(line[1] for line in lines[1:]) == sorted(u.username for u in space)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", lines[1][5])  # local time, no ISO string

    assert api.as_user(employee).get("/api/v1/notifications/pending/?crisis=5").status_code == 403
    assert api.as_user(dco).get("/api/v1/notifications/pending/?crisis=x").status_code == 400


@pytest.mark.django_db
def test_remind_them_now_reaches_only_those_who_have_not_acknowledged_and_is_audited(
    api, smtp_sink, dco, employee
):
    people = make_staff(3)
    event = record(crisis_id=6)
    ack(people[0], event)
    ack(dco, event)
    smtp_sink.messages.clear()

    assert api.as_user(employee).post("/api/v1/notifications/remind/", {"crisis": 6}).status_code == 403
    response = api.as_user(dco).post("/api/v1/notifications/remind/", {"crisis": 6}, format="json")
    assert response.status_code == 202, response.json()
    child = NoticeEvent.objects.get(pk=response.json()["id"])
    assert child.parent_id == event.pk and child.context == {"by": "dco"}
    services.event_materialise(event_id=child.pk)
    services.notices_deliver(event_id=child.pk, channel="email")
    assert set(smtp_sink.per_recipient()) == {people[1].email, people[2].email, employee.email}
    entry = AuditEntry.objects.get(action="notification.remind", details__by="dco")
    assert entry.actor_id == dco.pk
    # The scheduled rounds keep their count and times.
    assert services.reminders_start(now=event.created_at) == []
    bad = api.as_user(dco).post("/api/v1/notifications/remind/", {"crisis": "x"}, format="json")
    assert bad.status_code == 400 and "crisis" in bad.json()["errors"]


@pytest.mark.django_db
def test_only_a_dco_starts_a_reminder_round_even_calling_the_service(smtp_sink, dco, employee):
    """The service checks the role itself (the page and the API only ask it).
    Mutation: require_role removed from reminders_send_now -> this test fails."""
    make_staff(2)
    event = record(crisis_id=6)
    with pytest.raises(NotAllowedError):
        services.reminders_send_now(actor=employee, event=event)
    assert not NoticeEvent.objects.filter(parent=event).exists()
    assert services.reminders_send_now(actor=dco, event=event).parent_id == event.pk


@pytest.mark.django_db
def test_message_ids_are_random_per_notice_and_kept_across_resends(smtp_sink):
    """Mutation: the Message-ID built from the notice and event ids (the old
    <notice-{pk}.{event}@crisiscomm>) -> this test fails."""
    make_staff(2)
    record()
    ids = [m["Message-ID"] for _r, m in smtp_sink.messages]
    assert len(set(ids)) == 2
    for message_id, notice in zip(ids, Notice.objects.filter(channel="email").order_by("pk"), strict=True):
        assert re.fullmatch(r"<[0-9a-f-]{36}@crisiscomm\.invalid>", message_id)
        assert str(notice.message_key) in message_id
        assert f"notice-{notice.pk}" not in message_id
        assert EmailChannel().headers(notice)["Message-ID"] == message_id  # a re-send: the same


class _Rollback(Exception):
    pass


@pytest.mark.django_db
def test_remind_is_allowed_exactly_when_the_service_would_start_a_round(smtp_sink, dco, employee):
    """Each person, before and after the crisis is stood down: notice_event_allowed_actions
    answers what reminders_send_now does (tried, then rolled back). Mutation: the
    _reminders_over condition dropped from notice_event_allowed_actions -> "remind" is offered
    on a stood-down crisis the service refuses and this test fails."""
    make_staff(2)
    event = record(crisis_id=6)

    def carried_out(user):
        try:
            with transaction.atomic():
                services.reminders_send_now(actor=user, event=event)
                raise _Rollback
        except _Rollback:
            return frozenset({"notification.remind"})
        except ServiceError:
            return frozenset()

    for _stage in ("open", "stood down"):
        for user in (dco, employee):
            assert services.notice_event_allowed_actions(user=user, event=event) == carried_out(user)
        record(event="crisis.stood_down", crisis_id=6)
    assert services.notice_event_allowed_actions(user=dco, event=event) == frozenset()
