"""The pages: the DCO's registry, "my professional accounts", the control room's live list."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.watch import services
from apps.watch.models import Registration, Sighting, WatchedAccount

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"


def test_the_registry_says_plainly_what_is_not_read_and_shows_errors(client, dco, employee):
    services.watched_account_create(
        actor=dco,
        network="linkedin",
        kind="unwatchable",
        url="https://www.linkedin.com/in/e",
        owners=[employee],
    )
    broken = services.watched_account_create(
        actor=dco, network="blog", kind="feed", url="http://127.0.0.1:9/f.xml"
    )
    WatchedAccount.objects.filter(pk=broken.pk).update(
        last_error="The feed does not parse: mismatched tag.", last_error_at=timezone.now()
    )
    client.force_login(dco)
    page = client.get("/watch/").content.decode()
    assert "they are covered only by their owners" in page  # the unwatchable, said plainly
    assert "not read: covered by its owners" in page
    assert "The feed does not parse: mismatched tag." in page
    assert employee.get_full_name() in page


def test_the_registry_is_the_dcos_auditors_read_it_staff_do_not(client, dco, auditor, employee):
    client.force_login(employee)
    assert client.get("/watch/").status_code == 403
    client.force_login(auditor)
    page = client.get("/watch/")
    assert page.status_code == 200 and "Register an account" not in page.content.decode()
    assert client.post("/watch/", {"network": "mastodon"}).status_code == 403


def test_the_dco_registers_from_the_page_and_a_bad_url_is_named(client, dco):
    client.force_login(dco)
    bad = client.post("/watch/", {"network": "mastodon", "kind": "mastodon", "url": "http://127.0.0.1:9/lab"})
    assert bad.status_code == 400 and "https://instance/@name" in bad.content.decode()
    good = client.post(
        "/watch/", {"network": "mastodon", "kind": "mastodon", "url": "http://127.0.0.1:9/@lab"}
    )
    assert good.status_code == 302
    assert WatchedAccount.objects.get().registration == Registration.ACCEPTED


def test_my_accounts_propose_then_the_dco_accepts_from_the_registry(client, dco, employee):
    client.force_login(employee)
    response = client.post(
        "/watch/mine/",
        {"network": "bluesky", "kind": "bluesky", "url": "https://bsky.app/profile/me.bsky.social"},
    )
    assert response.status_code == 302
    page = client.get("/watch/mine/").content.decode()
    assert "https://bsky.app/profile/me.bsky.social" in page and "proposed" in page
    account = WatchedAccount.objects.get()
    assert client.post(f"/watch/accounts/{account.pk}/decide/", {"decision": "accept"}).status_code == 403
    client.force_login(dco)
    assert "Proposed by their owners" in client.get("/watch/").content.decode()
    client.post(f"/watch/accounts/{account.pk}/decide/", {"decision": "accept"})
    account.refresh_from_db()
    assert account.registration == Registration.ACCEPTED and account.decided_by == dco


def test_the_control_room_lists_what_was_seen_newest_first_and_the_dco_marks_it(
    fake, client, dco, employee, declare
):
    services.watched_account_create(
        actor=dco, network="mastodon", kind="mastodon", url=fake.mastodon_account("lab"), owners=[employee]
    )
    declare(minutes_ago=10)
    now = timezone.now()
    fake.toot("lab", "first thing", now - timedelta(minutes=5))
    fake.toot("lab", "second thing", now - timedelta(minutes=2))
    services.watch_sweep()
    client.force_login(dco)
    control = client.get("/control/").content.decode()
    assert "Seen during the freeze" in control and 'hx-get="/watch/sightings/"' in control
    listing = client.get("/watch/sightings/").content.decode()
    assert listing.index("second thing") < listing.index("first thing")  # newest first
    assert employee.get_full_name() in listing and fake.mastodon["lab"]["statuses"][0]["url"] in listing

    sighting = Sighting.objects.get(text="first thing")
    review = client.get(f"/watch/sightings/{sighting.pk}/review/")
    assert review.status_code == 200 and "first thing" in review.content.decode()
    missing = client.post(f"/watch/sightings/{sighting.pk}/review/", {"status": "acceptable"})
    assert missing.status_code == 400
    done = client.post(
        f"/watch/sightings/{sighting.pk}/review/",
        {"status": "acceptable", "comment": "Scheduled before, harmless"},
    )
    assert done.status_code == 302
    sighting.refresh_from_db()
    assert sighting.status == "acceptable" and sighting.reviewed_by == dco
    assert AuditEntry.objects.filter(action="watch.sighting_review").count() == 1

    client.force_login(employee)
    assert client.get("/watch/sightings/").status_code == 403
    assert (
        client.post(
            f"/watch/sightings/{sighting.pk}/review/", {"status": "followed_up", "comment": "x"}
        ).status_code
        == 403
    )


def test_an_owner_sees_what_was_seen_on_their_accounts(fake, client, dco, employee, declare):
    services.watched_account_create(
        actor=dco, network="mastodon", kind="mastodon", url=fake.mastodon_account("lab"), owners=[employee]
    )
    declare(minutes_ago=10)
    fake.toot("lab", "oops, posted during the freeze", timezone.now() - timedelta(minutes=1))
    services.watch_sweep()
    client.force_login(employee)
    page = client.get("/watch/mine/").content.decode()
    assert "oops, posted during the freeze" in page and "Crisis in force" in page
