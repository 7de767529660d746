"""Who hears of what: the owners told by name at a declaration (recorded with it, Redis or not),
the owner and the DCOs told of a sighting, the DCO's review, the crisis report's section."""

import shutil
import subprocess
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.crises.models import Crisis
from apps.crises.selectors import crisis_report
from apps.notifications.messages import render_template
from apps.notifications.models import Notice, NoticeEvent
from apps.notifications.selectors import notice_figures
from apps.notifications.services import event_materialise, notice_acknowledge
from apps.watch import services
from apps.watch.models import CrisisWatch, Sighting
from crisiscomm.celery import app as celery_app
from tests.notifications.conftest import free_port

pytestmark = pytest.mark.django_db


def ago(**kw):
    return timezone.now() - timedelta(**kw)


def test_owners_are_told_by_name_in_the_declarations_transaction(dco, make_user, declare, settings):
    """Mutation: the post_save receiver on the declaration's outbox row not connected (apps.py)
    -> no watch.owners_told event at the declaration, this test fails."""
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"
    settings.CRISISCOMM_FIGURES_TTL = 0
    alice = make_user("employee", username="alice", first_name="Alice", last_name="Martin")
    bob = make_user("employee", username="bob")
    make_user("employee", username="nobody")
    services.watched_account_create(
        actor=dco,
        network="linkedin",
        kind="unwatchable",
        url="https://www.linkedin.com/in/alice",
        owners=[alice],
    )
    services.watched_account_create(
        actor=dco, network="mastodon", kind="mastodon", url="http://127.0.0.1:9/@lab", owners=[alice, bob]
    )
    crisis = declare()
    events = {e.recipients[0]: e for e in NoticeEvent.objects.filter(event="watch.owners_told")}
    assert set(events) == {alice.pk, bob.pk}
    assert all(e.crisis_id == crisis.pk for e in events.values())
    assert [a["url"] for a in events[alice.pk].context["accounts"]] == [
        "http://127.0.0.1:9/@lab",
        "https://www.linkedin.com/in/alice",
    ]
    assert CrisisWatch.objects.get(crisis=crisis).owners == 2

    # The notice reads in each owner's language and is acknowledged like the others.
    event = events[alice.pk]
    english = render_template(event, "en")
    assert (
        "owner of these professional accounts" in english.text
        and "https://www.linkedin.com/in/alice" in english.text
    )
    assert "stay silent until the freeze ends" in english.subject
    french = render_template(event, "fr")
    assert "restent silencieux" in french.subject and "Une crise a été déclarée" in french.text
    event_materialise(event_id=event.pk)
    notice = Notice.objects.get(event=event, channel="inapp")
    assert notice_acknowledge(actor=alice, notice=notice) >= 1
    # Counted with the declaration's figures when asked for (recorded right after its notice).
    assert notice_figures(crisis_id=crisis.pk)["acknowledged"] == 0
    figures = notice_figures(crisis_id=crisis.pk, include=("watch.owners_told",))
    assert figures["acknowledged"] == 1
    # ... and the crisis report (the control room and the report pages read the same figures) asks.
    # Mutation: COUNTED_WITH_STAFF_NOTICE left out of crisis_report -> 0 acknowledged, this fails.
    assert crisis_report(crisis=crisis)["notifications"]["acknowledged"] == 1


def test_a_declaration_rolled_back_tells_no_owner(dco, employee, declare):
    services.watched_account_create(
        actor=dco,
        network="linkedin",
        kind="unwatchable",
        url="https://www.linkedin.com/in/e",
        owners=[employee],
    )
    from django.db.models.signals import post_save

    def fail_after_the_owners_notice(sender, instance, created, **kwargs):
        if created and instance.event == "crisis.declared":
            raise RuntimeError("the declaration's transaction fails after its outbox row")

    # The declaration is a durable transaction (never nested), so it is made to fail from inside:
    # after its outbox row, once the watch's own receiver has recorded the owners' notice.
    post_save.connect(fail_after_the_owners_notice, sender=NoticeEvent, dispatch_uid="test.fail_declaration")
    try:
        with pytest.raises(RuntimeError, match="fails after its outbox row"):
            declare()
    finally:
        post_save.disconnect(sender=NoticeEvent, dispatch_uid="test.fail_declaration")
    assert not Crisis.objects.exists()
    assert not NoticeEvent.objects.filter(event="watch.owners_told").exists()
    assert not CrisisWatch.objects.exists()


def test_the_sweep_tells_the_owners_if_the_declaration_could_not(dco, employee, declare):
    """Mutation: the owners_tell() call at the top of watch_sweep removed -> nobody is told."""
    from django.db.models.signals import post_save

    from apps.watch.services import on_notice_event_saved

    services.watched_account_create(
        actor=dco,
        network="linkedin",
        kind="unwatchable",
        url="https://www.linkedin.com/in/e",
        owners=[employee],
    )
    post_save.disconnect(on_notice_event_saved, sender=NoticeEvent, dispatch_uid="watch.owners_told")
    try:
        crisis = declare()
    finally:
        post_save.connect(on_notice_event_saved, sender=NoticeEvent, dispatch_uid="watch.owners_told")
    assert not CrisisWatch.objects.exists()
    services.watch_sweep()
    services.watch_sweep()
    assert CrisisWatch.objects.get().crisis == crisis
    assert NoticeEvent.objects.filter(event="watch.owners_told", recipients=[employee.pk]).count() == 1


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_owners_notice_is_still_recorded(dco, employee, declare):
    """A Redis server this test started is stopped before the declaration: the declaration
    commits with the owners' notice in the outbox (the relay sends it once Redis is back)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is needed for this test")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    # The project's app and the one the notice tasks publish through (the same one unless a test
    # made another app current): both pointed at the broker this test stops.
    from apps.notifications.tasks import materialise_event

    apps_in_use = {id(a): a for a in (celery_app, materialise_event.app)}.values()
    saved = [(a, a.conf.broker_url, a.conf.broker_write_url, a.conf.broker_read_url) for a in apps_in_use]

    def point(url):
        for app in apps_in_use:
            app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = url
            app._pool = None
            app.amqp._producer_pool = None

    try:
        time.sleep(0.3)
        point(f"redis://127.0.0.1:{port}/0")
        services.watched_account_create(
            actor=dco,
            network="linkedin",
            kind="unwatchable",
            url="https://www.linkedin.com/in/e",
            owners=[employee],
        )
        server.terminate()
        server.wait(10)
        # The broker the notice tasks publish to really is down.
        with pytest.raises(Exception):  # kombu raises the transport's own error
            materialise_event.app.connection_for_write().ensure_connection(max_retries=0, timeout=2)
        crisis = declare()
    finally:
        if server.poll() is None:
            server.kill()
        for app, *urls in saved:
            app.conf.broker_url, app.conf.broker_write_url, app.conf.broker_read_url = urls
            app._pool = None
            app.amqp._producer_pool = None
    event = NoticeEvent.objects.get(event="watch.owners_told")
    assert (
        event.recipients == [employee.pk] and event.crisis_id == crisis.pk and event.materialised_at is None
    )
    event_materialise(event_id=event.pk)  # what the relay's task does once Redis is back
    assert Notice.objects.filter(event=event, user=employee, channel="inapp").exists()


def test_the_owner_and_the_dcos_are_told_of_a_sighting(fake, dco, dco2, employee, declare, settings):
    settings.CRISISCOMM_DCO_CONTACT = "crisis-desk@agency.example"
    services.watched_account_create(
        actor=dco, network="mastodon", kind="mastodon", url=fake.mastodon_account("lab"), owners=[employee]
    )
    declare(minutes_ago=10)
    fake.toot("lab", "We cannot comment on the satellite anomaly", ago(minutes=2))
    services.watch_sweep()
    sighting = Sighting.objects.get()

    owner_event = NoticeEvent.objects.get(event="watch.sighting")
    assert owner_event.recipients == [employee.pk] and owner_event.context["sightings"] == [sighting.pk]
    text = render_template(owner_event, "en").text
    assert "> We cannot comment on the satellite anomaly" in text  # the post, quoted
    assert sighting.url in text
    assert "every professional publication, scheduled or not, is suspended" in text  # the rule
    assert "crisis-desk@agency.example" in text  # the DCO contact
    assert "Vu pendant le gel" in render_template(owner_event, "fr").subject

    dco_event = NoticeEvent.objects.get(event="watch.sighting_dco")
    assert sorted(dco_event.recipients) == sorted([dco.pk, dco2.pk])
    dco_text = render_template(dco_event, "en").text
    assert employee.get_full_name() in dco_text and sighting.url in dco_text
    event_materialise(event_id=dco_event.pk)
    assert set(Notice.objects.filter(event=dco_event, user=dco).values_list("channel", flat=True)) >= {
        "inapp",
        "email",
    }


def test_a_boost_of_an_official_post_tells_nobody(fake, dco, employee, declare):
    from apps.posts.models import SocialAccount

    SocialAccount.objects.create(
        network="mastodon", handle="agency@social.agency.example", connector="manual"
    )
    services.watched_account_create(
        actor=dco, network="mastodon", kind="mastodon", url=fake.mastodon_account("lab"), owners=[employee]
    )
    declare(minutes_ago=10)
    official = fake.remote_status(
        "agency@social.agency.example", "Statement", ago(minutes=3), "https://s.example/1"
    )
    fake.toot("lab", "", ago(minutes=2), reblog_of=official)
    services.watch_sweep()
    assert Sighting.objects.get().boost_of_official is True
    assert not NoticeEvent.objects.filter(event__startswith="watch.sighting").exists()


SIGHTINGS = "/api/v1/sightings/"


def test_the_dco_marks_a_sighting_with_a_comment_audited_and_the_report_lists_it(
    fake, api, dco, employee, auditor, declare, django_assert_max_num_queries
):
    """Mutation: _require_dco removed from the review action and from sighting_review -> the
    owner's review gets through, this test fails."""
    services.watched_account_create(
        actor=dco, network="mastodon", kind="mastodon", url=fake.mastodon_account("lab"), owners=[employee]
    )
    crisis = declare(minutes_ago=10)
    for n in range(3):
        fake.toot("lab", f"post {n}", ago(minutes=5 - n))
    services.watch_sweep()

    api.as_user(dco)
    with django_assert_max_num_queries(6):  # auth, roles, count, page, owners: not one per row
        listing = api.get(SIGHTINGS).json()
    assert [s["text"] for s in listing["results"]] == ["post 2", "post 1", "post 0"]  # newest first
    first = listing["results"][0]
    assert {
        "id",
        "account",
        "crisis",
        "url",
        "text",
        "published_at",
        "seen_at",
        "kind",
        "verdict",
        "status",
    } <= set(first)
    assert first["status"] == "new" and first["owners"] == [employee.pk]

    # Rights before input: the owner cannot mark, whatever they send.
    assert (
        api.as_user(employee).post(f"{SIGHTINGS}{first['id']}/review/", {}, format="json").status_code == 403
    )
    assert api.get(SIGHTINGS).json()["count"] == 3  # the owner reads their account's sightings
    assert (
        api.as_user(auditor)
        .post(f"{SIGHTINGS}{first['id']}/review/", {"status": "acceptable", "comment": "x"}, format="json")
        .status_code
        == 403
    )

    api.as_user(dco)
    missing = api.post(f"{SIGHTINGS}{first['id']}/review/", {"status": "acceptable"}, format="json")
    assert missing.status_code == 400 and "comment" in missing.json()["errors"]
    wrong = api.post(f"{SIGHTINGS}{first['id']}/review/", {"status": "new", "comment": "x"}, format="json")
    assert wrong.status_code == 400 and "status" in wrong.json()["errors"]
    done = api.post(
        f"{SIGHTINGS}{first['id']}/review/",
        {"status": "followed_up", "comment": "Called the lab head"},
        format="json",
    )
    assert done.status_code == 200 and done.json()["status"] == "followed_up"
    entry = AuditEntry.objects.get(action="watch.sighting_review")
    assert entry.actor_id == dco.pk and entry.details == {
        "from": "new",
        "to": "followed_up",
        "comment": "Called the lab head",
    }
    assert AuditEntry.objects.filter(action="watch.sighting").count() == 3

    section = crisis_report(crisis=crisis)["sightings"]
    assert section["total"] == 3 and section["by_status"] == {"new": 2, "followed_up": 1}
    followed = next(i for i in section["items"] if i["status"] == "followed_up")
    assert followed["comment"] == "Called the lab head" and followed["reviewed_by"]
    assert followed["owners"] == [employee.get_full_name()]
    from django.template.loader import render_to_string

    page = render_to_string("watch/_report_sightings.html", {"report": crisis_report(crisis=crisis)})
    assert "Called the lab head" in page and "3 posts seen" in page


def test_other_staff_see_no_sighting(fake, api, dco, employee, make_user, declare):
    services.watched_account_create(
        actor=dco, network="mastodon", kind="mastodon", url=fake.mastodon_account("lab"), owners=[employee]
    )
    declare(minutes_ago=10)
    fake.toot("lab", "a post", ago(minutes=1))
    services.watch_sweep()
    stranger = make_user("employee", username="stranger")
    assert api.as_user(stranger).get(SIGHTINGS).json()["count"] == 0
    sighting = Sighting.objects.get()
    assert api.get(f"{SIGHTINGS}{sighting.pk}/").status_code == 404
