"""The inbox API, live figures and the DCO's team webhooks."""

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from apps.audit.models import AuditEntry
from apps.core.errors import NotAllowedError, ServiceError
from apps.notifications import services
from apps.notifications.models import Acknowledgement, Notice, NoticeEvent, TeamWebhook
from apps.notifications.selectors import notice_figures
from tests.notifications.factories import make_staff

CONTEXT = {"title": "Incident", "freeze_until": "2026-11-26T09:00:00+00:00"}


def declare(crisis_id=1):
    with transaction.atomic():
        event = services.notify_event(event="crisis.declared", crisis_id=crisis_id, context=CONTEXT)
    services.event_materialise(event_id=event.pk)
    services.notices_deliver(event_id=event.pk, channel="email")
    return event


@pytest.mark.django_db
def test_inbox_lists_only_my_notices_with_the_message(api, smtp_sink, django_assert_max_num_queries):
    me, other = make_staff(2, language="en")
    declare(crisis_id=1)
    declare(crisis_id=2)
    client = api.as_user(me)
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/notifications/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == 4
    assert {r["channel"] for r in rows} == {"email", "inapp"}
    assert {r["crisis"] for r in rows} == {1, 2}
    row = rows[0]
    assert {"id", "event", "crisis", "channel", "status", "created_at", "acknowledged_at"} <= set(row)
    assert row["event"] == "crisis.declared"
    assert row["subject"].startswith("Crisis declared")
    assert "Do not answer or deny claims" in row["body"]
    assert not Notice.objects.filter(pk__in=[r["id"] for r in rows], user=other).exists()

    assert len(client.get("/api/v1/notifications/?crisis=2&channel=inapp").json()["results"]) == 1


@pytest.mark.django_db
def test_nobody_acknowledges_someone_elses_notice(api, smtp_sink):
    me, other = make_staff(2)
    declare()
    theirs = Notice.objects.filter(user=other).first()
    response = api.as_user(me).post(f"/api/v1/notifications/{theirs.pk}/acknowledge/")
    assert response.status_code == 404
    mine = Notice.objects.filter(user=me).first()
    assert APIClient().post(f"/api/v1/notifications/{mine.pk}/acknowledge/").status_code == 401
    assert not Notice.objects.filter(acknowledged_at__isnull=False).exists()


@pytest.mark.django_db
def test_figures_count_people_per_department_and_channel_for_dco_and_auditor_only(
    api, smtp_sink, dco, auditor, employee
):
    """One person acknowledging counts once (not once per channel) in the headline and in their
    department; channels are counted separately.
    Mutation: counting notices instead of distinct people per department -> this test fails."""
    research = make_staff(3, prefix="r", department="Research")
    make_staff(2, prefix="s", department="Space")
    event = declare(crisis_id=7)
    services.notice_acknowledge(
        actor=research[0], notice=Notice.objects.get(user=research[0], channel="email")
    )

    response = api.as_user(dco).get("/api/v1/notifications/figures/?crisis=7")
    assert response.status_code == 200
    figures = response.json()
    people = 5 + 3  # staff + the dco, auditor and employee fixtures (no department)
    assert (figures["total"], figures["acknowledged"], figures["pending"]) == (people, 1, people - 1)
    assert figures["people"] == {"total": people, "acknowledged": 1}
    assert figures["event"]["id"] == event.pk and figures["event"]["event"] == "crisis.declared"
    research_figures = figures["by_department"]["Research"]
    assert research_figures == {"total": 3, "acknowledged": 1, "pending": 2, "percent": 33}
    assert figures["by_department"]["Space"]["total"] == 2
    assert figures["by_channel"]["email"] == {
        "total": people,
        "queued": 0,
        "sent": people,
        "failed": 0,
        "cancelled": 0,
        "acknowledged": 1,
    }
    assert figures["by_channel"]["inapp"]["acknowledged"] == 1
    assert figures["notices"]["total"] == 2 * people
    direct = notice_figures(crisis_id=7)
    assert [e["id"] for e in figures.pop("events")] == [e["id"] for e in direct.pop("events")]
    assert figures.pop("event")["id"] == direct.pop("event")["id"]
    assert figures == direct

    assert api.as_user(auditor).get("/api/v1/notifications/figures/?crisis=7").status_code == 200
    assert api.as_user(employee).get("/api/v1/notifications/figures/?crisis=7").status_code == 403
    bad = api.as_user(dco).get("/api/v1/notifications/figures/?crisis=abc")
    assert bad.status_code == 400
    assert "crisis" in bad.json()["errors"]
    assert api.as_user(dco).get("/api/v1/notifications/figures/?crisis=7&event=x").status_code == 400
    assert notice_figures(crisis_id=999)["total"] == 0


@pytest.mark.django_db
def test_dco_configures_team_webhooks_and_never_sees_the_url_again(api, dco, employee):
    client = api.as_user(dco)
    secret = "https://chat.agency.example/hooks/s3cr3t-token"
    response = client.post(
        "/api/v1/team-webhooks/",
        {"name": "Research team", "kind": "mattermost", "url": secret, "department": "Research"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "url" not in body and body["url_host"] == "chat.agency.example"
    hook_id = body["id"]
    listed = client.get("/api/v1/team-webhooks/").content.decode()
    assert "s3cr3t" not in listed

    response = client.patch(f"/api/v1/team-webhooks/{hook_id}/", {"kind": "teams"}, format="json")
    assert response.status_code == 200 and response.json()["kind"] == "teams"
    assert TeamWebhook.objects.get(pk=hook_id).url == secret

    bad = client.post("/api/v1/team-webhooks/", {"name": "x", "kind": "irc", "url": "ftp://x"}, format="json")
    assert bad.status_code == 400
    assert {"kind", "url"} <= set(bad.json()["errors"])

    assert api.as_user(employee).get("/api/v1/team-webhooks/").status_code == 403
    client = api.as_user(dco)
    assert client.delete(f"/api/v1/team-webhooks/{hook_id}/").status_code == 204
    assert TeamWebhook.objects.get(pk=hook_id).is_active is False
    actions = list(
        AuditEntry.objects.filter(action__startswith="notification.webhook").values_list("action", flat=True)
    )
    assert actions == [
        "notification.webhook_create",
        "notification.webhook_update",
        "notification.webhook_delete",
    ]
    assert all("s3cr3t" not in str(e.details) for e in AuditEntry.objects.all())


@pytest.mark.django_db
def test_only_a_dco_manages_webhooks_even_calling_the_services(dco, employee):
    """The services check the role themselves (the admin and any other caller rely on them).
    Mutation: require_role removed from team_webhook_update (resp. _create, _delete) -> this
    test fails."""
    hook = services.team_webhook_create(actor=dco, name="Ops", kind="slack", url="https://chat.example/h")
    with pytest.raises(NotAllowedError):
        services.team_webhook_create(actor=employee, name="x", kind="slack", url="https://chat.example/x")
    with pytest.raises(NotAllowedError):
        services.team_webhook_update(actor=employee, webhook=hook, data={"is_active": False})
    with pytest.raises(NotAllowedError):
        services.team_webhook_delete(actor=employee, webhook=hook)
    hook.refresh_from_db()
    assert hook.is_active is True and TeamWebhook.objects.count() == 1


@pytest.mark.django_db
def test_a_webhook_field_the_services_do_not_know_is_refused_not_dropped(dco):
    """A caller that believes it set a field hears that it did not (400 naming it), and nothing
    is written. Mutation: the unknown-key check removed from team_webhook_create -> the hook is
    created without it and this test fails; model_update in team_webhook_update replaced by a
    loop over WEBHOOK_FIELDS only -> the update goes through and this test fails."""
    with pytest.raises(ServiceError) as refused:
        services.team_webhook_create(
            actor=dco, name="Ops", kind="slack", url="https://chat.example/h", secret="s"
        )
    assert refused.value.field == "secret" and not TeamWebhook.objects.exists()
    hook = services.team_webhook_create(actor=dco, name="Ops", kind="slack", url="https://chat.example/h")
    with pytest.raises(ServiceError) as refused:
        services.team_webhook_update(actor=dco, webhook=hook, data={"name": "Ops 2", "channel": "#x"})
    assert refused.value.field == "channel"
    hook.refresh_from_db()
    assert hook.name == "Ops"
    assert not AuditEntry.objects.filter(action="notification.webhook_update").exists()


ADMIN_FORM = {"kind": "slack", "department": "Ops", "language": "en", "is_active": "on"}


@pytest.mark.django_db
def test_admin_changes_webhooks_through_the_service_and_keeps_the_secret(client, make_user):
    officer = make_user("dco", username="admin-dco", is_staff=True, is_superuser=True)
    client.force_login(officer)
    secret = "https://chat.agency.example/hooks/very-secret"
    response = client.post(
        "/admin/notifications/teamwebhook/add/",
        {**ADMIN_FORM, "name": "Ops", "url": secret},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    hook = TeamWebhook.objects.get(name="Ops")
    page = client.get(f"/admin/notifications/teamwebhook/{hook.pk}/change/").content.decode()
    assert "very-secret" not in page
    response = client.post(
        f"/admin/notifications/teamwebhook/{hook.pk}/change/",
        {**ADMIN_FORM, "name": "Ops team", "url": ""},
    )
    assert response.status_code == 302
    hook.refresh_from_db()
    assert (hook.name, hook.url) == ("Ops team", secret)
    assert AuditEntry.objects.filter(action="notification.webhook_update", object_id=str(hook.pk)).exists()

    plain_admin = make_user(username="root", is_staff=True, is_superuser=True)
    client.force_login(plain_admin)
    assert client.get("/admin/notifications/teamwebhook/add/").status_code == 403


@pytest.mark.django_db
def test_the_admin_deletes_no_notice_event_notice_or_acknowledgement(client, make_user, smtp_sink):
    """Evidence is never deleted, not even by a superuser through the admin.
    Mutation: EvidenceAdmin.has_delete_permission returning the default -> this test fails."""
    root = make_user(username="root", is_staff=True, is_superuser=True)
    (person,) = make_staff(1)
    event = declare()
    services.notice_acknowledge(actor=person, notice=Notice.objects.get(user=person, channel="inapp"))
    client.force_login(root)
    for model, pk in (
        ("noticeevent", event.pk),
        ("notice", Notice.objects.filter(user=person).first().pk),
        ("acknowledgement", Acknowledgement.objects.get().pk),
    ):
        listing = client.get(f"/admin/notifications/{model}/")
        assert listing.status_code == 200
        assert "delete_selected" not in listing.content.decode()
        assert client.get(f"/admin/notifications/{model}/{pk}/delete/").status_code == 403
        assert client.post(f"/admin/notifications/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert Acknowledgement.objects.count() == 1 and NoticeEvent.objects.filter(pk=event.pk).exists()
