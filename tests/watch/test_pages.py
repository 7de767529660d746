"""The pages: the DCO's registry, "my professional accounts", the control room's live list."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.core.errors import ServiceError
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
    """Mutation: the _refuse_unless in the sighting_review view removed -> the employee's POST
    is answered 400 (the service's refusal shown on the form), not 403, and this test fails."""
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


class _Offered(HTMLParser):
    """{data-object: {data-action, …}}: what a page offers on each object (None: the page)."""

    VOID = {"br", "hr", "img", "input", "link", "meta"}

    def __init__(self):
        super().__init__()
        self.stack, self.offered = [], {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        ref = attrs.get("data-object") or next((r for _t, r in reversed(self.stack) if r), None)
        if "data-action" in attrs:
            self.offered.setdefault(ref, set()).add(attrs["data-action"])
        if tag not in self.VOID:
            self.stack.append((tag, attrs.get("data-object")))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return


def _offered(html: str) -> dict:
    parser = _Offered()
    parser.feed(html)
    return parser.offered


def test_the_registry_offers_each_person_what_the_services_allow_and_refuses_the_rest(
    client, dco, auditor, employee
):
    """Accept and reject only on a proposal, "stop watching" on every account, for a DCO; an
    auditor reads and is offered nothing, and a POST of the button anyway is a 403.
    Mutation: the _refuse_unless in account_active removed -> the auditor's POST is answered
    with a message (302), not 403, and this test fails."""
    accepted = services.watched_account_create(
        actor=dco, network="blog", kind="feed", url="http://127.0.0.1:9/f.xml"
    )
    proposed = services.watched_account_propose(
        actor=employee, network="bluesky", kind="bluesky", url="https://bsky.app/profile/me.bsky.social"
    )
    client.force_login(dco)
    page = client.get("/watch/").content.decode()
    assert _offered(page) == {
        f"watch.watchedaccount:{accepted.pk}": {"watch.account_update"},
        f"watch.watchedaccount:{proposed.pk}": {"watch.account_accept", "watch.account_reject"},
        None: {"watch.account_create", "watch.import"},
    }
    client.force_login(auditor)
    page = client.get("/watch/").content.decode()
    assert _offered(page) == {}
    assert client.post(f"/watch/accounts/{accepted.pk}/active/", {"active": "0"}).status_code == 403
    assert client.post("/watch/import/").status_code == 403
    accepted.refresh_from_db()
    assert accepted.active is True


def test_the_registry_changes_only_what_the_service_knows(dco):
    """A change naming a field the registry does not have is refused naming it, not dropped.
    Mutation: watched_account_update hands model_update only the ACCOUNT_FIELDS keys -> the
    unknown key is dropped silently and this test fails."""
    account = services.watched_account_create(
        actor=dco, network="blog", kind="feed", url="http://127.0.0.1:9/f.xml"
    )
    with pytest.raises(ServiceError) as refused:
        services.watched_account_update(actor=dco, account=account, data={"active": False, "colour": "red"})
    assert refused.value.field == "colour"
    account.refresh_from_db()
    assert account.active is True
    assert not AuditEntry.objects.filter(action="watch.account_update").exists()


class _Rollback(Exception):
    pass


def test_what_the_registry_and_a_sighting_allow_is_what_their_services_accept(
    fake, dco, auditor, employee, declare
):
    """Each person, each account state: the allowed set is exactly the actions the services
    carry out (each tried, then rolled back). Mutation: the PROPOSED condition removed from
    watched_account_allowed_actions -> accepting an accepted account is "allowed" but refused
    (409) and this test fails; sighting_allowed_actions answering for anyone -> this test fails."""
    accepted = services.watched_account_create(
        actor=dco, network="mastodon", kind="mastodon", url=fake.mastodon_account("lab")
    )
    proposed = services.watched_account_propose(
        actor=employee, network="bluesky", kind="bluesky", url="https://bsky.app/profile/me.bsky.social"
    )
    rejected = services.watched_account_propose(
        actor=employee, network="bluesky", kind="bluesky", url="https://bsky.app/profile/no.bsky.social"
    )
    rejected = services.watched_account_decide(actor=dco, account=rejected, accept=False)
    declare(minutes_ago=10)
    fake.toot("lab", "seen", timezone.now() - timedelta(minutes=1))
    services.watch_sweep()
    sighting = Sighting.objects.get()

    def carried_out(tries) -> set[str]:
        done = set()
        for action, attempt in tries.items():
            try:
                with transaction.atomic():
                    attempt()
                    raise _Rollback
            except _Rollback:
                done.add(action)
            except ServiceError:
                pass
        return done

    for user in (dco, auditor, employee):
        for account in (accepted, proposed, rejected):
            tries = {
                "watch.account_update": lambda u=user, a=account: services.watched_account_update(
                    actor=u, account=a, data={"department": "Elsewhere"}
                ),
                "watch.account_accept": lambda u=user, a=account: services.watched_account_decide(
                    actor=u, account=a, accept=True
                ),
                "watch.account_reject": lambda u=user, a=account: services.watched_account_decide(
                    actor=u, account=a, accept=False
                ),
            }
            allowed = services.watched_account_allowed_actions(user=user, account=account)
            assert allowed == carried_out(tries), (user.username, account.registration)
        review = {
            "watch.sighting_review": lambda u=user: services.sighting_review(
                actor=u, sighting=sighting, status="acceptable", comment="fine"
            )
        }
        allowed = services.sighting_allowed_actions(user=user, sighting=sighting)
        assert allowed == carried_out(review), user.username


def test_the_admin_shows_the_watch_and_changes_nothing(client, make_user, dco):
    """Every change goes through the services (audited): the admin only reads, even for a
    superuser. Mutation: WatchedAccountAdmin based on admin.ModelAdmin instead of ReadOnlyAdmin
    -> the add page answers 200 and this test fails."""
    account = services.watched_account_create(
        actor=dco, network="blog", kind="feed", url="http://127.0.0.1:9/f.xml"
    )
    client.force_login(make_user("dco", username="root", is_staff=True, is_superuser=True))
    assert client.get("/admin/watch/watchedaccount/").status_code == 200
    assert client.get("/admin/watch/watchedaccount/add/").status_code == 403
    assert (
        client.post(f"/admin/watch/watchedaccount/{account.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert WatchedAccount.objects.filter(pk=account.pk).exists()
