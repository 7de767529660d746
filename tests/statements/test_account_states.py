"""A statement tells the truth: `published` only once every one of its posts is out; until then
`publishing`, with each account's state — sent (with its link), to do by hand (with whom, and
"I published it" for that person and any DCO), failing (the error in plain words, "retry" and
"publish by hand" for the DCO). The networks are real local servers on 127.0.0.1; the failing
one answers 422, and the unreachable one is a server this test started and then stopped."""

import pytest
from django.urls import reverse

from apps.audit.models import AuditEntry
from apps.notifications.models import NoticeEvent
from apps.posts.models import Post, SocialAccount
from apps.posts.services import post_send, posts_claim_due
from apps.statements import services
from apps.statements.models import Statement
from tests.core.servers import free_port

from .conftest import decide_as_callers_do, grant

pytestmark = pytest.mark.django_db


def _approved_and_sent(people, crisis, accounts, body="We are investigating the anomaly."):
    grant(people["dco"], people["author"], topics=["launch"])
    s = services.statement_create(actor=people["author"], crisis=crisis, body=body, accounts=accounts)
    services.statement_submit(actor=people["author"], statement=s)
    services.statement_decide(actor=people["expert"], statement=s, verdict="approve")
    decide_as_callers_do(actor=people["dco2"], statement=s)
    outcomes = {}
    for post_id in posts_claim_due():  # the publisher's own path
        outcomes[Post.objects.get(pk=post_id).account_id] = post_send(post_id=post_id)
    s.refresh_from_db()
    return s, outcomes


def _states(api, user, statement):
    res = api.as_user(user).get(f"/api/v1/statements/{statement.pk}/")
    assert res.status_code == 200, res.json()
    return res.json()["status"], {a["account_id"]: a for a in res.json()["account_states"]}


def _act(api, user, statement, post_id, verb, **data):
    return api.as_user(user).post(
        f"/api/v1/statements/{statement.pk}/posts/{post_id}/{verb}/", data, format="json"
    )


def test_one_manual_and_one_failing_account_then_published_once_both_are_done(
    api, people, crisis, chain, desk, network
):
    """Mutation: the post_outcome_recorded call removed from the publisher's hand-over
    (_send_under_lock) or from its failure for good (_record_failure) -> nobody is told of the
    to-do or the failure; this test fails on `told`.
    Mutation: the post_outcome_recorded call removed from _send_under_lock's published branch ->
    the statement stays `publishing` after both posts are out and this test fails at the last
    status check.
    Mutation: `published` as soon as any post is out (the `any(status != published)` check
    removed) -> the status after the manual post is marked published reads `published` while
    the refused post is still not out, and this test fails there."""
    dco, li = people["dco"], desk["li_person"]
    statement, outcomes = _approved_and_sent(people, crisis, [desk["manual"], desk["refusing"]])
    assert outcomes == {desk["manual"].pk: "assigned", desk["refusing"].pk: "failed"}
    assert statement.status == "publishing" and statement.published_at is None
    # Whoever must act is told at once (in-app and e-mail): Lina her to-do, every DCO the failure.
    told = {
        e.event: sorted(e.recipients) for e in NoticeEvent.objects.filter(event__startswith="statement.post_")
    }
    assert told == {
        "statement.post_by_hand": [li.pk],
        "statement.post_failed": sorted([dco.pk, people["dco2"].pk]),
    }
    failed_notice = NoticeEvent.objects.get(event="statement.post_failed")
    assert "The network refused the text. (HTTP 422)" in failed_notice.context["message"]

    # What the DCO reads: the to-do with its person, the error in plain words (and the raw one).
    status, states = _states(api, dco, statement)
    assert status == "publishing"
    manual, failing = states[desk["manual"].pk], states[desk["refusing"].pk]
    assert (manual["state"], manual["assignee"], manual["can_mark_published"]) == (
        "by_hand",
        "Lina Roux",
        True,
    )
    assert failing["state"] == "failing" and not failing["retrying"]
    assert failing["error"] == "The network refused the text. (HTTP 422)"
    assert "Validation failed" in failing["error_detail"]
    assert failing["can_retry"] and failing["can_publish_by_hand"]

    # The author reads the same states, but not the network's reply, and has no DCO actions.
    _status, states = _states(api, people["author"], statement)
    failing_for_author = states[desk["refusing"].pk]
    assert failing_for_author["error"] == failing["error"] and failing_for_author["error_detail"] == ""
    assert not failing_for_author["can_retry"] and not states[desk["manual"].pk]["can_mark_published"]
    # The person who publishes by hand reads the statement (an employee otherwise would not).
    _status, states = _states(api, li, statement)
    assert states[desk["manual"].pk]["can_mark_published"]

    # Rights, checked on the server: the author neither marks, retries nor hands over; an
    # outsider does not even see the statement.
    manual_post, failing_post = manual["post"], failing["post"]
    assert _act(api, people["author"], statement, manual_post, "mark-published").status_code == 403
    assert _act(api, people["author"], statement, failing_post, "retry").status_code == 403
    assert _act(api, people["author"], statement, failing_post, "by-hand").status_code == 403
    assert _act(api, people["outsider"], statement, manual_post, "mark-published").status_code == 404
    # Bad input names the field; a post of another statement is refused.
    res = _act(api, li, statement, manual_post, "mark-published", external_url="javascript:alert(1)")
    assert res.status_code == 400 and "external_url" in res.json()["errors"]
    res = _act(api, li, statement, 2**40, "mark-published")
    assert res.status_code == 400 and "post" in res.json()["errors"]
    # Only a failing post is retried or handed over; a to-do is not "retried".
    assert _act(api, dco, statement, manual_post, "retry").status_code == 409

    # Lina publishes on LinkedIn by hand and says so, with the link.
    res = _act(api, li, statement, manual_post, "mark-published", external_url="https://linkedin.example/p/1")
    assert res.status_code == 200, res.json()
    assert res.json()["status"] == "publishing"  # the refused post is not out
    states = {a["account_id"]: a for a in res.json()["account_states"]}
    assert states[desk["manual"].pk]["state"] == "sent"
    assert states[desk["manual"].pk]["url"] == "https://linkedin.example/p/1"

    # The DCO fixes the account (the network now accepts) and retries.
    network.accept("https://x.example/agency/9")
    res = _act(api, dco, statement, failing_post, "retry")
    assert res.status_code == 200 and res.json()["status"] == "publishing"
    assert {a["state"] for a in res.json()["account_states"]} == {"sent", "scheduled"}
    assert [post_send(post_id=pid) for pid in posts_claim_due()] == ["published"]

    status, states = _states(api, people["author"], statement)
    assert status == "published"
    assert states[desk["refusing"].pk]["url"] == "https://x.example/agency/9"
    statement.refresh_from_db()
    assert statement.published_at is not None

    # Every step is on the record, on the statement's own trail.
    trail = list(
        AuditEntry.objects.filter(object_type="statements.statement", object_id=str(statement.pk))
        .order_by("sequence")
        .values_list("action", "actor_repr")
    )
    assert trail[-4:] == [
        ("statement.publish", "dco2"),
        ("statement.post_mark_published", "li_person"),
        ("statement.post_retry", "dco1"),
        ("statement.published", "system"),
    ]


def test_an_unreachable_network_reads_failing_while_it_retries_and_the_dco_publishes_by_hand(
    api, people, crisis, chain, accounts
):
    """The Mastodon case of the issue: its server cannot be reached, the publisher keeps
    retrying, the statement is not `published`, and the DCO takes it over by hand.
    Mutation: the by-hand hand-over leaves `assignee` unset (statement_post_by_hand) -> the post
    still reads `failing` and the publisher's next retry would send it again: this test fails.
    Mutation: the post_outcome_recorded call removed from post_mark_published -> the statement
    stays `publishing` after the DCO's "I published it"; this test fails."""
    dco = people["dco"]
    unreachable = SocialAccount.objects.create(
        network="mastodon",
        handle="@press@social.example",
        connector="mastodon",
        config={"base_url": f"http://127.0.0.1:{free_port()}", "access_token": "tok-secret"},
    )
    statement, outcomes = _approved_and_sent(people, crisis, [accounts["x"], unreachable])
    assert outcomes == {accounts["x"].pk: "published", unreachable.pk: "retry"}
    status, states = _states(api, dco, statement)
    assert status == "publishing"
    failing = states[unreachable.pk]
    assert failing["state"] == "failing" and failing["retrying"] and failing["attempts"] == 1
    assert failing["error"] == "The network's server could not be reached."
    assert not failing["can_retry"] and failing["can_publish_by_hand"]  # it retries by itself
    # No secret in anything the statement shows.
    assert "tok-secret" not in str(api.as_user(dco).get(f"/api/v1/statements/{statement.pk}/").json())

    res = _act(api, dco, statement, failing["post"], "by-hand")
    assert res.status_code == 200, res.json()
    # The DCO took it on themselves: nobody else to tell.
    assert not NoticeEvent.objects.filter(event="statement.post_by_hand").exists()
    by_hand = {a["account_id"]: a for a in res.json()["account_states"]}[unreachable.pk]
    assert by_hand["state"] == "by_hand" and by_hand["assignee"] == dco.get_full_name()
    assert post_send(post_id=failing["post"]) == "skipped"  # the pending retry leaves it alone

    res = _act(api, dco, statement, failing["post"], "mark-published")
    assert res.status_code == 200 and res.json()["status"] == "published"
    actions = set(
        AuditEntry.objects.filter(
            object_type="statements.statement", object_id=str(statement.pk)
        ).values_list("action", flat=True)
    )
    assert {"statement.post_by_hand", "statement.post_mark_published", "statement.published"} <= actions


def test_the_statement_page_shows_each_account_and_its_actions(client, people, crisis, chain, desk):
    statement, _ = _approved_and_sent(people, crisis, [desk["manual"], desk["refusing"]])
    client.force_login(people["dco"])
    page = client.get(f"/statements/{statement.pk}/").content.decode()
    assert "publishing" in page and "to do by hand" in page and "Lina Roux" in page
    assert "The network refused the text. (HTTP 422)" in page
    for action in ("mark-published", "retry", "by-hand"):
        assert f"/statements/{statement.pk}/posts/" in page and f"/{action}/" in page
    # The same page in French (the reader's language): states and actions are there too.
    res = client.get(f"/statements/{statement.pk}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert res.status_code == 200 and 'data-state="failing"' in res.content.decode()

    # The person with the to-do sees the statement and their button, not the DCO's actions.
    client.force_login(desk["li_person"])
    page = client.get(f"/statements/{statement.pk}/").content.decode()
    assert "I published it" in page and "/retry/" not in page and "Validation failed" not in page
    manual_post = Post.objects.get(account=desk["manual"], statement_link__statement=statement)
    res = client.post(f"/statements/{statement.pk}/posts/{manual_post.pk}/mark-published/", {})
    assert res.status_code == 302
    manual_post.refresh_from_db()
    assert manual_post.status == "published"
    assert Statement.objects.get(pk=statement.pk).status == "publishing"

    # The list of statements and the control room carry the states too (the same rows).
    client.force_login(people["dco"])
    for url in ("/statements/", "/control/"):
        page = client.get(url).content.decode()
        assert f'id="statement-row-{statement.pk}"' in page, url
        assert "failing" in page and "The network refused the text. (HTTP 422)" in page, url
        assert "sent" in page and "Lina Roux" not in page, url  # the to-do is done


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('Mastodon: HTTP 401 {"error": "The access token is invalid"}', "credentials"),
        ("Webhook: HTTP 503 upstream down", "server failed. (HTTP 503)"),
        ("Webhook: HTTP 429 slow down", "slow down. (HTTP 429)"),
        ("POST http://h/api: ConnectTimeout: timed out", "did not answer in time"),
        ("POST http://h/api: ConnectionError: [Errno 111] Connection refused", "could not be reached"),
        ("POST http://h: ConnectionError: NameResolutionError", "could not be found (DNS)"),
        ("Manual: the assignee is not an active user", "no longer active"),
        ("something nobody planned for: token=abc", "the DCO sees the details"),
    ],
)
def test_errors_in_plain_words_never_echo_the_reply(raw, words):
    from apps.statements.selectors import plain_error

    said = plain_error(f"{raw} ECHOED-BY-THE-NETWORK")
    assert words in said
    assert "ECHOED" not in said and "{" not in said and "http://" not in said


def test_every_post_status_reads_as_an_account_state(people, crisis, chain, accounts):
    """What each stored (or derived) status of a statement post reads as, for the DCO."""
    from apps.statements.selectors import post_state

    statement, _ = _approved_and_sent(people, crisis, [accounts["x"]])
    post = Post.objects.get(statement_link__statement=statement)
    cases = [
        ({"status": "published", "external_url": "javascript:alert(1)"}, "sent", {"url": ""}),
        ({"status": "publishing", "assignee_id": None, "last_error": ""}, "sending", {}),
        ({"status": "publishing", "last_error": "HTTP 502"}, "failing", {"retrying": True}),
        ({"status": "failed", "last_error": "HTTP 422"}, "failing", {"retrying": False, "can_retry": True}),
        ({"status": "cancelled"}, "cancelled", {}),
        ({"status": "uncertain"}, "held", {"label": "may have gone out"}),
        ({"status": "scheduled"}, "scheduled", {}),
    ]
    for fields, state, extra in cases:
        for name, value in fields.items():
            setattr(post, name, value)
        seen = post_state(post=post, user=people["dco"], closure=None)
        assert seen["state"] == state, fields
        for key, value in extra.items():
            assert seen[key] == value, (fields, key)
    # A later crisis's closed gate holds back a post exempt only for an earlier one.
    post.status = "scheduled"
    from apps.posts.models import GateClosure

    later = GateClosure(pk=post.exempt_closure_id + 1000)
    assert post_state(post=post, user=people["dco"], closure=later)["label"] == "frozen"


def test_the_list_with_account_states_is_bounded_in_queries(
    api, people, crisis, chain, desk, django_assert_max_num_queries
):
    for i in range(5):
        _approved_and_sent(people, crisis, [desk["manual"], desk["refusing"]], body=f"statement {i}")
    client = api.as_user(people["dco"])
    with django_assert_max_num_queries(12):
        res = client.get("/api/v1/statements/")
    rows = res.json()["results"]
    assert len(rows) == 5 and all(
        [a["state"] for a in r["account_states"]] == ["by_hand", "failing"] for r in rows
    )


def test_the_ready_made_scenario_for_the_browser_tests(people, crisis, chain, make_user, client):
    from .scenarios import RefusingNetwork, statement_one_manual_one_failing

    assignee = make_user("employee", username="hand")
    with RefusingNetwork() as net:
        statement, manual_post, failing_post = statement_one_manual_one_failing(
            crisis=crisis,
            author=people["author"],
            expert=people["expert"],
            dco=people["dco2"],
            assignee=assignee,
            network_url=net.url,
        )
        states = {a["post"]: a["state"] for a in services_states(statement)}
        assert statement.status == "publishing"
        assert states == {manual_post.pk: "by_hand", failing_post.pk: "failing"}
        # The report page shows each account's state, not the raw post status.
        # Mutation: report.html back to `{{ p.status }}` -> "To do by hand" is missing, this fails.
        client.force_login(people["dco"])
        page = client.get(reverse("web:report", args=[crisis.pk])).content.decode()
        labels = {a["label"] for a in services_states(statement)}
        assert all(str(label) in page for label in labels), labels
        net.accept()
        services.statement_post_retry(actor=people["dco"], statement=statement, post=failing_post)
        assert [post_send(post_id=pid) for pid in posts_claim_due()] == ["published"]
    services.statement_post_mark_published(actor=assignee, statement=statement, post=manual_post)
    statement.refresh_from_db()
    assert statement.status == "published"


def services_states(statement):
    from apps.statements.selectors import statement_account_states

    return statement_account_states(statement=Statement.objects.get(pk=statement.pk))


def test_nothing_more_goes_out_once_the_statements_crisis_is_over(api, people, crisis, chain, desk):
    """Mutation: the crisis-in-force check removed from statement_post_retry -> a failed post of
    a closed crisis's statement is scheduled again (and would go out); this test fails."""
    from apps.crises.models import Crisis
    from apps.statements.selectors import awaiting_user

    statement, _ = _approved_and_sent(people, crisis, [desk["manual"], desk["refusing"]])
    failing = Post.objects.get(statement_link__statement=statement, account=desk["refusing"])
    assert [i["kind"] for i in awaiting_user(user=people["dco"])] == ["statement_failing"]
    Crisis.objects.filter(pk=crisis.pk).update(status="closed", is_open=None)
    for verb in ("retry", "by-hand"):
        res = _act(api, people["dco"], statement, failing.pk, verb)
        assert res.status_code == 409 and "crisis" in res.json()["errors"], verb
    failing.refresh_from_db()
    assert failing.status == "failed"
    assert awaiting_user(user=people["dco"]) == []  # not waiting for anyone any more
    # What was done by hand can still be recorded: it is a fact, not a publication.
    manual = Post.objects.get(statement_link__statement=statement, account=desk["manual"])
    assert _act(api, desk["li_person"], statement, manual.pk, "mark-published").status_code == 200


def test_statement_rows_cost_no_query_per_row(client, people, crisis, chain, desk):
    """Wherever web/_statement_rows.html is included (the control room lists a crisis's
    statements), the states of all rows are read in one go. Mutation: with_account_states
    without its prefetch -> each extra row costs queries; this test fails."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(people["dco"])

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            page = client.get("/control/").content.decode()
        assert page.count('class="account-states"') == Statement.objects.count()
        return len(ctx.captured_queries)

    for i in range(2):
        _approved_and_sent(people, crisis, [desk["manual"], desk["refusing"]], body=f"first {i}")
    few = queries()
    for i in range(4):
        _approved_and_sent(people, crisis, [desk["manual"], desk["refusing"]], body=f"more {i}")
    assert queries() <= few + 1


def test_withdrawing_a_statement_whose_posts_did_not_go_out(api, people, crisis, chain, desk):
    """A statement being published can be withdrawn by the DCO while none of its posts is out,
    on its way, or a person's to-do: failed and already cancelled posts are fine."""
    from apps.posts.services import post_cancel

    statement, _ = _approved_and_sent(people, crisis, [desk["manual"], desk["refusing"]])
    res = api.as_user(people["dco"]).post(f"/api/v1/statements/{statement.pk}/withdraw/")
    assert res.status_code == 409  # LinkedIn is in Lina's hands

    other, _ = _approved_and_sent(people, crisis, [desk["refusing"]], body="Second try")
    [failed] = Post.objects.filter(statement_link__statement=other)
    assert failed.status == "failed"
    post_cancel(actor=people["dco"], post=failed)  # cancelled from the calendar
    res = api.as_user(people["author"]).post(f"/api/v1/statements/{other.pk}/withdraw/")
    assert res.status_code == 403  # being published: the DCO's call
    res = api.as_user(people["dco"]).post(f"/api/v1/statements/{other.pk}/withdraw/", {"reason": "late"})
    assert res.status_code == 200 and res.json()["status"] == "withdrawn"
    assert [a["state"] for a in res.json()["account_states"]] == ["cancelled"]


def test_handing_a_post_to_someone_checks_rights_before_input_and_tells_them(
    api, people, crisis, chain, desk
):
    """Mutation: the post_outcome_recorded call removed from post_hand_to_person (the posts
    service statement_post_by_hand calls; statements' listener tells the assignee) -> Lina is
    not told of her to-do; this test fails."""
    from apps.notifications.models import NoticeEvent

    statement, _ = _approved_and_sent(people, crisis, [desk["refusing"]])
    [failing] = Post.objects.filter(statement_link__statement=statement)
    li = desk["li_person"]
    # A non-DCO gets 403 whatever id it sends (it cannot probe who exists).
    for assignee in (li.pk, 999999):
        res = _act(api, people["author"], statement, failing.pk, "by-hand", assignee=assignee)
        assert res.status_code == 403
    res = _act(api, people["dco"], statement, failing.pk, "by-hand", assignee=999999)
    assert res.status_code == 400 and "assignee" in res.json()["errors"]
    res = _act(api, people["dco"], statement, failing.pk, "by-hand", assignee=li.pk)
    assert res.status_code == 200
    [state] = res.json()["account_states"]
    assert state["state"] == "by_hand" and state["assignee"] == "Lina Roux"
    assert NoticeEvent.objects.get(event="statement.post_by_hand").recipients == [li.pk]
