"""The sweep against loopback fakes of Mastodon, Bluesky and a feed server: what becomes a
sighting, once; how replies and boosts are classified; what a bad account shows; Retry-After."""

import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connections
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.notifications.models import NoticeEvent
from apps.posts.models import SocialAccount
from apps.watch import readers, services, sightings, sweep
from apps.watch.models import Sighting, WatchedAccount
from apps.watch.readers import Fetcher, HostLimiter, ReadResult, SeenPost, read_account

pytestmark = pytest.mark.django_db


def register(dco, url, kind, *, owners=(), network=None):
    network = network or {"feed": "blog"}.get(kind, kind)
    return services.watched_account_create(actor=dco, network=network, kind=kind, url=url, owners=owners)


def ago(**kw):
    return timezone.now() - timedelta(**kw)


def test_no_crisis_no_sweep_unless_always(fake, dco, settings):
    register(dco, fake.mastodon_account("lab"), "mastodon")
    assert services.watch_sweep() == {"skipped": "no crisis"}
    assert fake.requests == []
    settings.CRISISCOMM_WATCH_ALWAYS = True
    fake.toot("lab", "a normal day", ago(minutes=1))
    result = services.watch_sweep()
    assert result["read"] == 1 and result["sightings"] == 0  # read, kept healthy, nothing recorded
    assert WatchedAccount.objects.get().last_good_read_at is not None
    assert not Sighting.objects.exists()


def test_mastodon_post_before_the_declaration_is_never_a_sighting_one_during_it_once(
    fake, dco, employee, declare
):
    """Mutation: since_id not sent -> the second read asks without it, this test fails."""
    url = register(dco, fake.mastodon_account("lab_optics"), "mastodon", owners=[employee]).url
    fake.toot("lab_optics", "before the crisis", ago(hours=2))
    crisis = declare(minutes_ago=30)
    during = fake.toot("lab_optics", "Our instrument works perfectly!", ago(minutes=5))

    first = services.watch_sweep()
    assert first["sightings"] == 1 and first["errors"] == 0
    sighting = Sighting.objects.get()
    assert (sighting.post_id, sighting.kind, sighting.crisis, sighting.status) == (
        during["id"],
        "post",
        crisis,
        "new",
    )
    assert sighting.text == "Our instrument works perfectly!" and sighting.url == during["url"]
    assert sighting.account.url == url

    again = services.watch_sweep()
    assert again["sightings"] == 0 and Sighting.objects.count() == 1
    statuses = [q for path, q, _h in fake.requests if path.endswith("/statuses")]
    assert statuses[-1]["since_id"] == during["id"]
    # The lookup happens once; the account id is kept.
    assert sum(1 for path, _q, _h in fake.requests if path.endswith("/lookup")) == 1


def test_mastodon_pages_are_followed_until_the_declaration(fake, dco, declare):
    """Mutation: `next_link` not followed -> only the first 40 of 95 are seen, this test fails."""
    register(dco, fake.mastodon_account("busy"), "mastodon")
    for n in range(5):
        fake.toot("busy", f"old {n}", ago(hours=3, minutes=n))
    declare(minutes_ago=120)
    for n in range(95):
        fake.toot("busy", f"during {n}", ago(minutes=100 - n))
    assert services.watch_sweep()["sightings"] == 95
    assert sorted(Sighting.objects.values_list("text", flat=True)) == sorted(f"during {n}" for n in range(95))
    pages = [q for path, q, _h in fake.requests if path.endswith("/statuses")]
    assert len(pages) == 3 and "max_id" in pages[1]


def test_replies_and_boosts_are_classified_a_boost_of_an_official_post_is_no_offence(fake, dco, declare):
    """Mutation: the official-author check removed from _record -> the official boost gets the
    pre-check's verdict and boost_of_official False, this test fails."""
    SocialAccount.objects.create(
        network="mastodon",
        handle="@agency",
        connector="manual",
        config={"base_url": "https://social.agency.example"},
    )
    register(dco, fake.mastodon_account("researcher"), "mastodon")
    declare(minutes_ago=30)
    own_id = fake.mastodon["researcher"]["id"]
    fake.toot("researcher", "thread start", ago(minutes=20))
    fake.toot("researcher", "thread continued", ago(minutes=19), reply_to_account=own_id)
    fake.toot("researcher", "@troll you are wrong", ago(minutes=18), reply_to_account="777")
    official = fake.remote_status(
        "agency@social.agency.example",
        "Official statement",
        ago(minutes=17),
        "https://social.agency.example/@agency/1",
    )
    fake.toot("researcher", "", ago(minutes=16), reblog_of=official)
    other = fake.remote_status(
        "someone@elsewhere.example",
        "Rumour about the satellite",
        ago(minutes=15),
        "https://elsewhere.example/@someone/5",
    )
    fake.toot("researcher", "", ago(minutes=15), reblog_of=other)

    services.watch_sweep()
    seen = {s.text: s for s in Sighting.objects.all()}
    assert {t: s.kind for t, s in seen.items()} == {
        "thread start": "post",
        "thread continued": "post",
        "@troll you are wrong": "reply",
        "Official statement": "boost",
        "Rumour about the satellite": "boost",
    }
    assert seen["Official statement"].boost_of_official is True
    assert seen["Official statement"].verdict == "allowed" and seen["Official statement"].reasons == []
    assert seen["Rumour about the satellite"].boost_of_official is False


def test_during_a_freeze_the_precheck_gives_the_verdict(fake, dco, declare):
    """The crisis rules of apps.policy apply to what was posted during the freeze."""
    from apps.policy.selectors import precheck

    register(dco, fake.mastodon_account("lab"), "mastodon")
    crisis = declare(minutes_ago=10)
    fake.toot("lab", "New results from our lab this morning", ago(minutes=5))
    services.watch_sweep()
    sighting = Sighting.objects.get()
    expected = precheck(
        network="mastodon", text=sighting.text, account_kind="personal", now=sighting.published_at
    )
    assert expected.crisis == crisis
    assert sighting.verdict == expected.verdict
    assert {r["code"] for r in sighting.reasons} == {r.code for r in expected.reasons}
    assert all("message_fr" in r and "message_en" in r for r in sighting.reasons)


def test_bluesky_posts_replies_reposts_and_a_deleted_account(fake, dco, declare):
    """Mutation: the `reasonRepost` branch removed -> the repost is a post, this test fails."""
    good = register(dco, fake.bluesky_account("lab.bsky.social"), "bluesky")
    gone = register(dco, "https://bsky.app/profile/gone.bsky.social", "bluesky")
    fake.skeet("lab.bsky.social", "old news", ago(hours=5))
    declare(minutes_ago=60)
    fake.skeet("lab.bsky.social", "our launch went well", ago(minutes=30))
    fake.skeet(
        "lab.bsky.social", "replying to a journalist", ago(minutes=20), reply_parent_did="did:plc:journalist"
    )
    fake.skeet(
        "lab.bsky.social",
        "",
        ago(minutes=10),
        repost_of=("press.example.com", "3kabc", "Breaking: agency silent"),
    )

    result = services.watch_sweep()
    assert result["read"] == 1 and result["errors"] == 1
    assert sorted(Sighting.objects.values_list("text", "kind")) == [
        ("Breaking: agency silent", "boost"),
        ("our launch went well", "post"),
        ("replying to a journalist", "reply"),
    ]
    assert all(s.url.startswith("https://bsky.app/profile/") for s in Sighting.objects.all())
    gone.refresh_from_db()
    assert "Profile not found" in gone.last_error and gone.last_good_read_at is None
    good.refresh_from_db()
    assert good.last_error == "" and good.remote_id.startswith("did:plc:")
    assert services.watch_sweep()["sightings"] == 0  # once


def test_feeds_conditional_get_and_a_feed_that_stops_parsing(fake, dco, declare):
    """Mutation: If-None-Match not sent -> the second read is a 200, the asserted 304 is missing.
    Mutation: the `not parsed.entries and bozo` check removed -> no error shown, this test fails."""
    blog = register(dco, fake.feed("blog"), "feed")
    channel = register(dco, fake.feed("channel", atom=True), "feed", network="youtube")
    fake.feed_entry("blog", "Old article", ago(days=2))
    declare(minutes_ago=60)
    fake.feed_entry("blog", "New article during the freeze", ago(minutes=5))
    fake.feed_entry("channel", "New video", ago(minutes=4))
    assert services.watch_sweep()["sightings"] == 2
    assert sorted(Sighting.objects.values_list("text", flat=True)) == [
        "New article during the freeze",
        "New video",
    ]

    services.watch_sweep()
    blog_reads = [h for path, _q, h in fake.requests if path == "/feeds/blog.xml"]
    assert blog_reads[-1].get("If-None-Match") == fake.feeds["blog"]["etag"]
    blog.refresh_from_db()
    good_read = blog.last_good_read_at

    fake.feeds["blog"]["broken"] = True
    fake.feed_entry("channel", "Another video", ago(minutes=1))
    result = services.watch_sweep()
    assert result["errors"] == 1 and result["sightings"] == 1  # the bad feed did not stop the sweep
    blog.refresh_from_db()
    assert blog.last_error.startswith("The feed does not parse") and blog.last_good_read_at == good_read
    channel.refresh_from_db()
    assert channel.last_error == ""
    assert AuditEntry.objects.filter(action="watch.account_error", object_id=str(blog.pk)).count() == 1


def test_a_deleted_mastodon_account_and_an_unreachable_host_show_their_error(fake, dco, declare, settings):
    gone = register(dco, fake.mastodon_account("deleted"), "mastodon")
    del fake.mastodon["deleted"]
    dead = register(dco, "http://127.0.0.1:9/@nobody", "mastodon")  # nothing listens on port 9
    ok = register(dco, fake.mastodon_account("alive"), "mastodon")
    declare(minutes_ago=10)
    fake.toot("alive", "still posting", ago(minutes=1))
    result = services.watch_sweep()
    assert (result["read"], result["errors"], result["sightings"]) == (1, 2, 1)
    gone.refresh_from_db()
    dead.refresh_from_db()
    ok.refresh_from_db()
    assert "no longer exists" in gone.last_error
    assert "could not be reached" in dead.last_error
    assert ok.last_good_read_at is not None and ok.last_error == ""


def test_retry_after_is_honoured_for_the_whole_host(fake, dco, declare, monkeypatch):
    """Mutation: limiter.block() not called on 429 -> the next sweep asks the host again at once,
    this test fails."""
    first = register(dco, fake.mastodon_account("a"), "mastodon")
    register(dco, fake.mastodon_account("b"), "mastodon")
    declare(minutes_ago=10)
    fake.toot("a", "hello", ago(minutes=1))
    fake.rate_limited["/api/v1/accounts/lookup"] = 1
    fake.retry_after = "2"
    limiter = HostLimiter()
    result = services.watch_sweep(concurrency=1, limiter=limiter)
    assert result["errors"] == 1 and result["deferred"] == 1  # the second account waits its turn
    first.refresh_from_db()
    assert "429" in first.last_error
    assert timezone.now() < first.next_read_at <= timezone.now() + timedelta(seconds=3)
    asked = len(fake.requests)
    assert services.watch_sweep(limiter=HostLimiter())["accounts"] == 0  # both deferred: not due
    assert len(fake.requests) == asked
    # The clock moved past Retry-After, not slept through: the sweep's (due accounts) and the
    # host block's (wall clock, shared through the cache) both 3 s on.
    later = time.time() + 3
    monkeypatch.setattr(
        readers, "time", SimpleNamespace(time=lambda: later, monotonic=time.monotonic, sleep=time.sleep)
    )
    result = services.watch_sweep(now=timezone.now() + timedelta(seconds=3), limiter=HostLimiter())
    assert result["read"] == 2 and result["sightings"] == 1, result


def test_per_host_pacing(fake, dco, declare, settings):
    """Mutation: HostLimiter.acquire() returning at once -> 6 reads take ~0 s, this test fails."""
    settings.CRISISCOMM_WATCH_HOST_RATES = {f"127.0.0.1:{fake.port}": 10.0}
    for n in range(6):
        register(dco, fake.feed(f"f{n}"), "feed")
    declare()
    started = time.monotonic()
    assert services.watch_sweep(concurrency=6)["read"] == 6
    assert time.monotonic() - started >= 0.45  # 6 requests at 10 a second: 5 intervals of 0.1 s


def test_an_address_refused_by_the_outbound_rules_is_an_account_error(fake, dco, declare, settings):
    account = register(dco, fake.mastodon_account("lab"), "mastodon")
    settings.CRISISCOMM_OUTBOUND_ALLOW = ""  # 127.0.0.1 no longer allowed once registered
    declare()
    assert services.watch_sweep()["errors"] == 1
    account.refresh_from_db()
    assert "loopback" in account.last_error
    assert fake.requests == []


def test_unwatchable_proposed_and_inactive_accounts_are_not_read(fake, dco, employee, declare):
    services.watched_account_create(
        actor=dco, network="linkedin", kind="unwatchable", url="https://www.linkedin.com/in/x"
    )
    services.watched_account_propose(
        actor=employee, network="mastodon", kind="mastodon", url=fake.mastodon_account("p")
    )
    inactive = register(dco, fake.mastodon_account("i"), "mastodon")
    services.watched_account_update(actor=dco, account=inactive, data={"active": False})
    declare()
    assert services.watch_sweep()["accounts"] == 0 and fake.requests == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_recordings_of_one_read_record_each_post_once(fake, dco, declare):
    """Two transactions on PostgreSQL record the same read at the same time (two workers).
    Mutation: select_for_update() removed from _record -> one of them hits the unique constraint
    (IntegrityError), this test fails."""
    from apps.crises.selectors import crisis_open
    from apps.watch.readers import AccountState, Fetcher, read_account

    account = register(dco, fake.mastodon_account("lab"), "mastodon")
    declare(minutes_ago=10)
    for n in range(20):
        fake.toot("lab", f"post {n}", ago(minutes=5))
    crisis = crisis_open()
    state = AccountState(pk=account.pk, kind="mastodon", url=account.url, network="mastodon")
    result = read_account(state, since=crisis.declared_at, fetch=Fetcher())
    assert len(result.posts) == 20
    barrier = threading.Barrier(2)
    outcomes = []

    def record():
        try:
            barrier.wait(5)
            outcomes.append(sweep._record(account, result, crisis=crisis, official=(set(), set())))
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=record) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes, key=str) == [0, 20]
    assert Sighting.objects.count() == 20
    assert NoticeEvent.objects.filter(event="watch.sighting_dco").count() == 1


def test_a_link_a_remote_server_sends_is_shown_only_if_it_is_http(fake, dco, declare):
    """Mutation: safe_http_url() removed in _record -> a javascript: URL is stored and rendered
    as a link in the control room, this test fails."""
    register(dco, fake.mastodon_account("evil"), "mastodon")
    declare(minutes_ago=10)
    status = fake.toot("evil", "click me", ago(minutes=1))
    status["url"] = "javascript:alert(document.cookie)"
    services.watch_sweep()
    assert Sighting.objects.get().url == ""


def test_the_reader_returns_nothing_older_than_the_declaration(fake, dco):
    """Mutation: the `created < since` check in MastodonReader removed -> the old toot is
    returned, this test fails."""
    account = register(dco, fake.mastodon_account("lab"), "mastodon")
    fake.toot("lab", "old", ago(hours=2))
    new = fake.toot("lab", "new", ago(minutes=1))
    result = read_account(sweep._state(account), since=ago(minutes=30), fetch=Fetcher())
    assert result.error == "" and [p.post_id for p in result.posts] == [new["id"]]


def test_a_post_older_than_the_declaration_is_never_recorded_whatever_a_reader_returns(dco, declare):
    """Mutation: the `published_at < crisis.declared_at` check in _record_sightings removed -> the
    old post is recorded, this test fails."""
    account = register(dco, "https://bsky.app/profile/lab.bsky.social", "bluesky")
    crisis = declare()
    old = SeenPost(
        post_id="at://x/1", url="", text="old", published_at=crisis.declared_at - timedelta(seconds=1)
    )
    new = SeenPost(
        post_id="at://x/2", url="", text="new", published_at=crisis.declared_at + timedelta(seconds=1)
    )
    assert sweep._record(account, ReadResult(posts=[old, new]), crisis=crisis, official=(set(), set())) == 1
    assert list(Sighting.objects.values_list("text", flat=True)) == ["new"]


def test_a_boost_of_a_published_statement_is_no_offence(fake, dco, declare):
    """A statement the agency published (its post's external_url), boosted from a relay account
    that is not one of the official accounts: still an official boost.
    Mutation: the `boosted_url in urls` check removed -> boost_of_official False, this test fails."""
    from tests.posts.factories import PostFactory

    PostFactory(status="published", exempt=True, external_url="https://relay.example/@agencynews/77")
    register(dco, fake.mastodon_account("lab"), "mastodon")
    declare(minutes_ago=10)
    statement = fake.remote_status(
        "agencynews@relay.example", "Statement", ago(minutes=3), "https://relay.example/@agencynews/77"
    )
    fake.toot("lab", "", ago(minutes=2), reblog_of=statement)
    services.watch_sweep()
    sighting = Sighting.objects.get()
    assert (sighting.kind, sighting.boost_of_official, sighting.verdict) == ("boost", True, "allowed")


def test_bluesky_cursor_pages_are_followed_until_the_last_read(fake, dco, declare):
    """Mutation: the `cursor` not passed on (params without it) -> the same first page is read
    again and the older 70 posts are never seen, this test fails."""
    register(dco, fake.bluesky_account("busy.bsky.social"), "bluesky")
    declare(minutes_ago=200)
    for n in range(120):
        fake.skeet("busy.bsky.social", f"skeet {n}", ago(minutes=150 - n))
    assert services.watch_sweep()["sightings"] == 120
    pages = [q for path, q, _h in fake.requests if path.endswith("getAuthorFeed")]
    assert [q.get("cursor") for q in pages] == [None, "50", "100"]
    fake.skeet("busy.bsky.social", "one more", ago(minutes=1))
    assert services.watch_sweep()["sightings"] == 1
    assert (
        len([q for path, q, _h in fake.requests if path.endswith("getAuthorFeed")]) == 4
    )  # one page: stops at the last read


def test_a_host_that_does_not_answer_in_time_is_an_account_error(fake, dco, declare, settings):
    settings.CRISISCOMM_WATCH_TIMEOUT = 0.3
    slow = register(dco, fake.feed("slow"), "feed")
    declare()
    fake.latency = 1.0
    started = time.monotonic()
    assert services.watch_sweep()["errors"] == 1
    assert time.monotonic() - started < 1.0  # the sweep did not wait for the host
    slow.refresh_from_db()
    assert "did not answer within 0.3 s" in slow.last_error


def test_an_account_failing_again_and_again_is_read_less_often(fake, dco, declare, settings):
    """Mutation: _backoff() returning 0 -> the dead account is read at every sweep, this test fails."""
    settings.CRISISCOMM_WATCH_INTERVAL = 60
    dead = register(dco, "http://127.0.0.1:9/@nobody", "mastodon")
    declare()
    services.watch_sweep()
    dead.refresh_from_db()
    assert dead.consecutive_errors == 1 and dead.next_read_at is None  # one failure: next sweep retries
    services.watch_sweep()
    dead.refresh_from_db()
    assert dead.consecutive_errors == 2
    assert dead.next_read_at - dead.last_read_at == timedelta(seconds=120)
    assert services.watch_sweep()["accounts"] == 0  # not due yet


@pytest.mark.django_db(transaction=True)
def test_one_sweep_at_a_time(fake, dco, declare):
    """A second worker's sweep while one runs (the advisory lock held by another connection):
    it skips. Mutation: the _try_sweep_lock() check removed -> it sweeps, this test fails."""
    import psycopg

    from crisiscomm.embedded_db import database_url

    register(dco, fake.feed("f"), "feed")
    declare()
    db = connections["default"].settings_dict
    with psycopg.connect(database_url(db).replace("postgres://", "postgresql://", 1)) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [sweep.SWEEP_LOCK_KEY])
        assert services.watch_sweep() == {"skipped": "another sweep is running"}
        assert fake.requests == []
    assert services.watch_sweep()["read"] == 1


def test_a_quiet_read_is_recorded_but_never_over_an_account_edited_meanwhile(fake, dco, declare):
    """Mutation: the `a.url = v.url AND a.kind = v.kind` condition removed from _record_quiet ->
    the stale read's validator lands on the edited account, this test fails."""
    account = register(dco, fake.feed("first"), "feed")
    declare()
    assert services.watch_sweep()["read"] == 1  # an empty feed: a quiet read
    account.refresh_from_db()
    assert account.etag == fake.feeds["first"]["etag"] and account.last_good_read_at is not None
    stale = WatchedAccount.objects.get(pk=account.pk)
    services.watched_account_update(actor=dco, account=account, data={"url": fake.feed("second")})
    written = sweep._record_quiet([(stale, ReadResult(etag='"stale"'))], now=timezone.now())
    assert written == 0
    account.refresh_from_db()
    assert account.etag == "" and account.url.endswith("/feeds/second.xml")


@pytest.mark.django_db(transaction=True)
def test_reads_with_news_are_recorded_by_the_recorder_threads_each_once(
    fake, dco, employee, declare, settings
):
    """Outside a transaction (as in the Celery task) reads with news go to recorder threads, each
    with its own connection: every post recorded once, every notice and audit entry written, the
    audit chain still valid."""
    from apps.audit.selectors import audit_chain_verify

    settings.CRISISCOMM_WATCH_RECORDERS = 4
    for n in range(12):
        services.watched_account_create(
            actor=dco,
            network="mastodon",
            kind="mastodon",
            url=fake.mastodon_account(f"lab{n}"),
            owners=[employee],
        )
    declare(minutes_ago=10)
    for n in range(12):
        fake.toot(f"lab{n}", f"post of lab {n}", ago(minutes=2))
    result = services.watch_sweep()
    assert result["recorders"] == 4 and result["sightings"] == 12 and result["errors"] == 0
    assert sorted(Sighting.objects.values_list("text", flat=True)) == sorted(
        f"post of lab {n}" for n in range(12)
    )
    assert NoticeEvent.objects.filter(event="watch.sighting").count() == 12
    assert AuditEntry.objects.filter(action="watch.sighting").count() == 12
    assert audit_chain_verify().valid
    assert services.watch_sweep()["sightings"] == 0


def test_a_recording_failure_shows_on_the_account_and_the_sweep_goes_on(fake, dco, declare, monkeypatch):
    """A post whose recording fails (here the pre-check breaks on it) leaves its account showing
    the error, not only a log line; the other account is recorded; once the check works again the
    post is recorded at the next sweep (the cursor was not moved past it).
    Mutation: _record_failure() not called in record_one -> last_error stays empty, this test fails."""
    bad = register(dco, fake.mastodon_account("bad"), "mastodon")
    good = register(dco, fake.mastodon_account("good"), "mastodon")
    declare(minutes_ago=10)
    fake.toot("bad", "breaks the check", ago(minutes=2))
    fake.toot("good", "fine", ago(minutes=2))
    real_precheck = sightings.precheck

    def broken_precheck(*, text, **kwargs):
        if "breaks the check" in text:
            raise RuntimeError("rule set unreadable")
        return real_precheck(text=text, **kwargs)

    monkeypatch.setattr(sightings, "precheck", broken_precheck)
    result = services.watch_sweep()
    assert (result["errors"], result["sightings"]) == (1, 1)
    bad.refresh_from_db()
    assert bad.last_error.startswith("Recording what was read failed (RuntimeError: rule set unreadable")
    assert bad.consecutive_errors == 1 and bad.last_error_at is not None
    assert list(Sighting.objects.values_list("account", flat=True)) == [good.pk]
    assert AuditEntry.objects.filter(action="watch.account_error", object_id=str(bad.pk)).exists()

    monkeypatch.setattr(sightings, "precheck", real_precheck)
    assert services.watch_sweep()["sightings"] == 1
    bad.refresh_from_db()
    assert bad.consecutive_errors == 0
    assert Sighting.objects.filter(account=bad, text="breaks the check").exists()


def test_an_undated_feed_entry_first_seen_during_the_crisis_is_a_sighting_the_baseline_never(
    fake, dco, declare, api
):
    """The rule for feed entries with no date: what the first read of the crisis finds is the
    baseline (it may predate the declaration: never a sighting); an entry that appears at a
    later read appeared during the crisis: a sighting dated when first seen, marked as such.
    Mutation: the `baseline` check removed from FeedReader -> the old entry becomes a sighting,
    this test fails. Mutation: undated entries skipped as before -> the new one is never seen,
    this test fails."""
    notes = register(dco, fake.feed("notes"), "feed")
    fake.feed_entry("notes", "Undated page from last year", None)
    fake.feed_entry("notes", "Dated old article", ago(days=3))
    declare(minutes_ago=10)

    first = services.watch_sweep()
    assert (first["errors"], first["sightings"]) == (0, 0)  # the baseline

    before = timezone.now()
    fake.feed_entry("notes", "Undated note written during the freeze", None)
    second = services.watch_sweep()
    after = timezone.now()
    assert (second["errors"], second["sightings"]) == (0, 1)
    sighting = Sighting.objects.get()
    assert sighting.text == "Undated note written during the freeze" and sighting.account_id == notes.pk
    assert sighting.published_estimated and before <= sighting.published_at <= after

    assert services.watch_sweep()["sightings"] == 0  # once
    body = api.as_user(dco).get(f"/api/v1/sightings/{sighting.pk}/").json()
    assert body["published_estimated"] is True


def test_a_post_made_in_the_declarations_second_is_a_sighting(fake, dco, declare):
    """The flake of the real worker test: its first sweep can come within a second of the
    declaration, and the fakes gave whole seconds, so a post made then read as older than the
    declaration and was dropped (Mastodon and Bluesky give milliseconds).
    Mutation: fakes.iso() cut to the second -> the post reads as before the declaration, this
    test fails."""
    register(dco, fake.mastodon_account("quick"), "mastodon")
    crisis = declare()
    just_after = crisis.declared_at.replace(
        microsecond=max(crisis.declared_at.microsecond, 1000)
    ) + timedelta(milliseconds=1)
    if just_after.second != crisis.declared_at.second:  # the declaration at the end of its second
        just_after = crisis.declared_at + timedelta(microseconds=1000)
    fake.toot("quick", "right after the declaration", just_after)
    assert services.watch_sweep()["sightings"] == 1
