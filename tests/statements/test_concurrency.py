"""Two reviewers deciding the same step at the same moment: one wins, the other gets 409.
Real concurrent transactions on PostgreSQL, each thread with its own connection."""

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from apps.posts.models import Post
from apps.statements import services
from apps.statements.models import Decision, Statement

from .conftest import approve_too_late, decide_as_callers_do, grant

ROUNDS = 4


def _race(users, statement_id, verb, data):
    from knox.models import AuthToken

    barrier = threading.Barrier(len(users))
    results = {}
    # API tokens are stored hashed: each racer's clear token is made here (accounts, issue 10).
    tokens = {u.pk: AuthToken.objects.create(user=u)[1] for u in users}

    def run(user):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[user.pk]}")
            barrier.wait(timeout=10)
            res = client.post(f"/api/v1/statements/{statement_id}/{verb}/", data, format="json")
            results[user.username] = res.status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_same_step_one_wins_the_other_gets_409(people, crisis, chain, accounts):
    grant(people["dco"], people["author"])
    experts = [people["expert"], people["expert2"]]
    dcos = [people["dco"], people["dco2"]]
    for i in range(ROUNDS):
        s = services.statement_create(
            actor=people["author"], crisis=crisis, body=f"statement {i}", accounts=[accounts["x"]]
        )
        services.statement_submit(actor=people["author"], statement=s)
        # Step 1 (any expert): both experts at once; the loser's step has just been decided.
        first = _race(experts, s.pk, "approve", {"comment": "ok"})
        assert sorted(first.values()) == [200, 409], first
        # Step 2 (any DCO): one approves while the other rejects at the same moment.
        second = _race(dcos, s.pk, "approve" if i % 2 else "reject", {"comment": "decided"})
        assert sorted(second.values()) == [200, 409], second
        s.refresh_from_db()
        # Approved with no planned time: publishing at once (one set of posts).
        assert s.status in ("publishing", "rejected")
        # Exactly one decision per step: the loser left no trace.
        assert list(Decision.objects.filter(request__statement=s).values_list("step__order", flat=True)) == [
            1,
            2,
        ]
    assert Statement.objects.filter(status__in=["publishing", "rejected"]).count() == ROUNDS
    for s in Statement.objects.filter(status="publishing"):
        assert s.post_links.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_edit_racing_an_approval_never_leaves_an_approval_on_the_new_text(people, crisis, chain, accounts):
    grant(people["dco"], people["author"])
    for i in range(ROUNDS):
        s = services.statement_create(
            actor=people["author"], crisis=crisis, body=f"text {i}", accounts=[accounts["x"]]
        )
        services.statement_submit(actor=people["author"], statement=s)
        services.statement_decide(actor=people["expert"], statement=s, verdict="approve")
        barrier = threading.Barrier(2)
        out = {}

        def approve(s=s, out=out, barrier=barrier):
            try:
                barrier.wait(timeout=10)
                try:
                    decide_as_callers_do(actor=people["dco"], statement=s, revision=1)
                    out["approve"] = "ok"
                except services.ConflictError:
                    out["approve"] = "409"
            finally:
                connections.close_all()

        def edit(s=s, out=out, barrier=barrier):
            try:
                barrier.wait(timeout=10)
                try:
                    services.statement_edit(actor=people["author"], statement=s, body=f"text {i} edited")
                    out["edit"] = "ok"
                except services.ConflictError:
                    out["edit"] = "409"
            finally:
                connections.close_all()

        threads = [threading.Thread(target=approve), threading.Thread(target=edit)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        s.refresh_from_db()
        if out.get("edit") == "ok":  # the edit came first: the approval aimed at revision 1 is refused
            assert out["approve"] == "409" and s.revision == 2 and s.status == "draft", out
            assert not s.approval_requests.filter(status__in=["pending", "approved"]).exists()
        else:  # the approval came first and published revision 1: the edit is refused
            assert out["approve"] == "ok" and s.revision == 1 and s.status == "publishing", out
            assert [p.body for p in Post.objects.filter(statement_link__statement=s)] == [f"text {i}"]


def _threads(*targets):
    """Run the targets at the same moment, each in its thread with its own connection. A service
    refusal reads as its HTTP status; any other exception (a deadlock…) is kept as the
    exception object, so callers' assertions on the outcomes see it."""
    barrier = threading.Barrier(len(targets))
    out = [None] * len(targets)

    def wrap(i, fn):
        try:
            barrier.wait(timeout=10)
            try:
                out[i] = fn()
            except services.ServiceError as exc:
                out[i] = exc.status_code
            except Exception as exc:  # reported to the test, not swallowed
                out[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrap, args=(i, fn)) for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return out


@pytest.mark.django_db(transaction=True)
def test_two_dcos_publishing_at_once_make_one_set_of_posts(people, crisis, chain, accounts):
    grant(people["dco"], people["author"])
    for i in range(ROUNDS):
        s = services.statement_create(
            actor=people["author"],
            crisis=crisis,
            body=f"out {i}",
            accounts=[accounts["x"], accounts["mastodon"]],
        )
        s = approve_too_late(people=people, statement=s)
        out = _threads(
            lambda s=s: len(services.statement_publish(actor=people["dco"], statement=s)),
            lambda s=s: len(services.statement_publish(actor=people["dco2"], statement=s)),
        )
        assert sorted(out, key=str) == sorted([2, 409], key=str), out
        assert Post.objects.filter(statement_link__statement=s).count() == 2


@pytest.mark.django_db(transaction=True)
def test_post_runs_share_the_same_race_rule(people, chain, accounts):
    from datetime import timedelta

    from django.utils import timezone

    from apps.posts.services import post_create

    for i in range(ROUNDS):
        post = post_create(
            actor=people["dco"],
            account=accounts["x"],
            body=f"news {i}",
            scheduled_at=timezone.now() + timedelta(hours=1),
        )
        run = services.post_approval_request(actor=people["dco"], post=post)
        out = _threads(
            lambda run=run: services.post_approval_decide(
                actor=people["expert"], approval=run, verdict="approve"
            ).pk,
            lambda run=run: services.post_approval_decide(
                actor=people["expert2"], approval=run, verdict="approve"
            ).pk,
        )
        assert sorted(out) == sorted([run.pk, 409]), out
        assert Decision.objects.filter(request=run).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_posts_of_one_statement_going_out_at_once_make_it_published(people, crisis, chain, make_user):
    """Two people say "I published it" for the two accounts of one statement at the same moment:
    each transaction sees only its own post out, so without a lock neither would mark the
    statement published. Mutation: statement_sync_published reads the statement without
    select_for_update -> some rounds end `publishing` with both posts out; this test fails."""
    from apps.posts.models import SocialAccount
    from apps.posts.services import post_send, posts_claim_due

    grant(people["dco"], people["author"])
    hands = [make_user("employee", username=f"hand{i}") for i in range(2)]
    accounts = [
        SocialAccount.objects.create(
            network=net, handle=f"agency-{net}", connector="manual", config={"assignee": hand.username}
        )
        for net, hand in zip(["linkedin", "facebook"], hands, strict=True)
    ]
    for i in range(ROUNDS * 2):
        s = services.statement_create(
            actor=people["author"], crisis=crisis, body=f"out {i}", accounts=accounts
        )
        services.statement_submit(actor=people["author"], statement=s)
        services.statement_decide(actor=people["expert"], statement=s, verdict="approve")
        decide_as_callers_do(actor=people["dco2"], statement=s)
        assert [post_send(post_id=pid) for pid in posts_claim_due()] == ["assigned", "assigned"]
        posts = {p.assignee_id: p for p in Post.objects.filter(statement_link__statement=s)}
        out = _threads(
            *[
                lambda hand=hand, s=s: services.statement_post_mark_published(
                    actor=hand, statement=s, post=posts[hand.pk]
                ).status
                for hand in hands
            ]
        )
        assert out == ["published", "published"], out
        s.refresh_from_db()
        assert s.status == "published", f"round {i}: both posts out, statement {s.status}"


@pytest.mark.django_db(transaction=True)
def test_withdrawing_while_its_post_is_being_sent_neither_deadlocks_nor_lies(people, crisis, chain, webhook):
    """The DCO withdraws a statement while the publisher is sending its post (the network
    answers slowly): the send holds the post row, then statement_post_outcome (which the
    publisher calls) takes the statement row. The withdraw takes the post rows before the
    statement row, so it waits, then sees the post out and refuses (409); nothing deadlocks and
    the statement reads `published`.
    Mutation: statement_withdraw locks the statement before the posts -> PostgreSQL detects a
    deadlock and aborts one of the two transactions; this test fails."""
    import time

    from apps.posts.models import SocialAccount
    from apps.posts.services import post_send, posts_claim_due

    webhook.delay = 1.0  # the peer takes a second to answer: the send holds its row meanwhile
    account = SocialAccount.objects.create(
        network="x",
        handle="@slow",
        connector="webhook",
        config={"url": webhook.url, "secret": "s3cret"},
    )
    grant(people["dco"], people["author"])
    s = services.statement_create(actor=people["author"], crisis=crisis, body="slow", accounts=[account])
    services.statement_submit(actor=people["author"], statement=s)
    services.statement_decide(actor=people["expert"], statement=s, verdict="approve")
    decide_as_callers_do(actor=people["dco2"], statement=s)
    [post_id] = posts_claim_due()

    def withdraw():
        time.sleep(0.3)  # the send is under way (its request is at the slow peer)
        return services.statement_withdraw(actor=people["dco"], statement=s).status

    out = _threads(lambda: post_send(post_id=post_id), withdraw)
    assert out == ["published", 409], out
    s.refresh_from_db()
    assert s.status == "published" and len(webhook.received) == 1


@pytest.mark.django_db(transaction=True)
def test_an_edit_racing_the_final_approval_of_a_post_never_releases_unapproved_words(people, chain, accounts):
    """The DCO edits a held calendar post while the last reviewer approves it, at the same moment.
    Whichever commits first, a post that is released (not held) says exactly what was approved,
    and neither side fails with a database error. Mutation: _lock_post_run locks the run before
    the post (the edit locks the post, then the runs) -> PostgreSQL detects deadlocks and aborts
    one side; this test fails."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.posts.services import post_create, post_update
    from apps.statements.models import ApprovalRequest

    for i in range(ROUNDS * 2):
        post = post_create(
            actor=people["dco"],
            account=accounts["x"],
            body=f"news {i}",
            scheduled_at=timezone.now() + timedelta(hours=1),
        )
        run = services.post_approval_request(actor=people["dco"], post=post)
        services.post_approval_decide(actor=people["expert"], approval=run, verdict="approve")
        out = _threads(
            lambda run=run: services.post_approval_decide(
                actor=people["dco2"], approval=run, verdict="approve"
            ).status,
            lambda post=post, i=i: post_update(
                actor=people["dco"], post=post, data={"body": f"edited {i}"}
            ).body,
        )
        # The edit always lands; the decision lands, or is refused (409) on a voided run.
        assert out[1] == f"edited {i}" and out[0] in ("approved", 409), (i, out)
        post.refresh_from_db()
        run = ApprovalRequest.objects.get(pk=run.pk)
        if not post.awaiting_approval:
            assert run.status == "approved" and run.post_snapshot["body"] == post.body, (i, post.body)
        else:
            assert run.status == "voided", (i, run.status)
