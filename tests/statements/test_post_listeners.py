"""Statements acts on posts through apps.posts.listeners, called explicitly by the posts code that
changes a post (no model signal): every writer of a calendar post's body, account or time voids
an approval bound to the old ones (audited), and the real publisher marks a statement published."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.crises.checklist import checklist_codes
from apps.crises.services import (
    crisis_approve_lift,
    crisis_decide_post,
    crisis_declare,
    crisis_request_lift,
)
from apps.posts.models import Post
from apps.posts.services import post_create, post_send, post_set_hold, post_update, posts_claim_due
from apps.statements import services
from apps.statements.models import ApprovalRequest
from tests.crises.helpers import past_freeze

from .conftest import decide_as_callers_do, grant

pytestmark = pytest.mark.django_db

# The lift's checklist, every item confirmed.
CHECKLIST = dict.fromkeys(checklist_codes(), True)


def _approved_post(people, account, minutes=40):
    """A calendar post approved by the default chain and released at its time."""
    post = post_create(
        actor=people["dco"],
        account=account,
        body="Our new lab opens",
        scheduled_at=timezone.now() + timedelta(minutes=minutes),
    )
    run = services.post_approval_request(actor=people["dco"], post=post)
    services.post_approval_decide(actor=people["expert"], approval=run, verdict="approve")
    run = services.post_approval_decide(actor=people["dco2"], approval=run, verdict="approve")
    post.refresh_from_db()
    assert run.status == "approved" and not post.awaiting_approval
    return post, run


def _time_passed(post, run):
    """The post's time passed during the freeze (the clock, not an edit: the snapshot moves
    with it, so nothing sees a change of what was approved)."""
    when = timezone.now() - timedelta(minutes=5)
    ApprovalRequest.objects.filter(pk=run.pk).update(
        post_snapshot={**run.post_snapshot, "scheduled_at": when.isoformat()}
    )
    Post.objects.filter(pk=post.pk).update(scheduled_at=when)


def _declare(people):
    return crisis_declare(
        actor=people["dco"], title="Anomaly", summary="internal", severity=2, topics=["Launch"]
    )


def _lift(people, crisis, post, **decision):
    crisis_decide_post(actor=people["dco"], crisis=crisis, post=post, **decision)
    past_freeze(crisis)
    crisis_request_lift(actor=people["dco"], crisis=crisis, comment="over", checklist=CHECKLIST)
    crisis_approve_lift(actor=people["dco2"], crisis=crisis)


WRITERS = ["update_body", "update_account", "update_time", "hold_new_time", "lift_reschedule", "lift_paced"]


@pytest.mark.parametrize("writer", WRITERS)
def test_every_posts_writer_of_what_was_approved_voids_the_approval(people, chain, accounts, writer):
    """Each posts code that writes a calendar post's body, account or time (the calendar's
    post_update and post_set_hold, the crisis lift's reschedule and its pacing) calls
    posts_content_changing before the write: the approved run is voided, audited, and the post
    held again. The database trigger (migration 0004) alone would void it without an audit entry.
    Mutations, each -> its cases fail on the audit entry: the posts_content_changing call removed
    from post_update (update_*), from post_set_hold (hold_new_time), from _apply_resume's
    reschedule (lift_reschedule) or its pacing (lift_paced); register_content_change left out of
    StatementsConfig.ready -> every case fails."""
    dco = people["dco"]
    post, run = _approved_post(people, accounts["x"])
    later = timezone.now() + timedelta(hours=5)
    if writer == "update_body":
        post_update(actor=dco, post=post, data={"body": "Words nobody reviewed"})
    elif writer == "update_account":
        post_update(actor=dco, post=post, data={"account": accounts["mastodon"]})
    elif writer == "update_time":
        post_update(actor=dco, post=post, data={"scheduled_at": later})
    elif writer == "hold_new_time":
        post_set_hold(actor=dco, post=post, awaiting_approval=False, scheduled_at=later)
    else:
        crisis = _declare(people)
        if writer == "lift_reschedule":
            _lift(people, crisis, post, decision="reschedule", scheduled_at=later)
        else:  # its time passed during the freeze: released now, paced by the lift
            _time_passed(post, run)
            _lift(people, crisis, post, decision="release", publish_now=True)

    post.refresh_from_db()
    run.refresh_from_db()
    assert run.status == "voided" and post.awaiting_approval
    assert AuditEntry.objects.filter(action="post_approval.void", object_id=str(run.pk)).count() == 1
    assert posts_claim_due() == []


def test_a_lift_that_keeps_a_posts_time_keeps_its_approval(people, chain, accounts):
    """Released at its own time (no move): the lift changes nothing that was approved."""
    post, run = _approved_post(people, accounts["x"], minutes=60 * 48)
    _lift(people, _declare(people), post, decision="release")
    post.refresh_from_db()
    run.refresh_from_db()
    assert run.status == "approved" and not post.awaiting_approval and post.status == "scheduled"


def test_the_real_publisher_marks_the_statement_published_when_its_last_post_is_out(
    people, crisis, chain, accounts
):
    """Sent by posts_claim_due and post_send (the publisher's own path): the statement stays
    `publishing` while one post is still to send and is `published`, audited, once the last is
    out, in the send's transaction. Mutation: the post_outcome_recorded call removed from
    _send_under_lock's published branch -> the statement stays `publishing`; this test fails.
    Mutation: register_outcome left out of StatementsConfig.ready -> the same."""
    grant(people["dco"], people["author"], topics=["launch"])
    statement = services.statement_create(
        actor=people["author"], crisis=crisis, body="We are investigating.", accounts=list(accounts.values())
    )
    services.statement_submit(actor=people["author"], statement=statement)
    services.statement_decide(actor=people["expert"], statement=statement, verdict="approve")
    decide_as_callers_do(actor=people["dco2"], statement=statement)
    first, second = posts_claim_due()

    assert post_send(post_id=first) == "published"
    statement.refresh_from_db()
    assert statement.status == "publishing"
    assert post_send(post_id=second) == "published"
    statement.refresh_from_db()
    assert statement.status == "published"
    assert statement.published_at == Post.objects.get(pk=second).published_at
    assert AuditEntry.objects.filter(action="statement.published", object_id=str(statement.pk)).count() == 1
