"""Publishing an approved statement: its exempt posts, their follow-up, the statement's end."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError, NotAllowedError, ServiceError
from apps.core.roles import DCO, has_role, require_role
from apps.crises.selectors import crisis_open
from apps.notifications.services import notify_users
from apps.posts.listeners import Outcome
from apps.posts.locks import gate_lock_shared
from apps.posts.models import Post, PostStatus, SocialAccount
from apps.posts.services import post_create, post_hand_to_person, post_mark_published, post_update

from .chain import CLOCK_SKEW
from .drafting import _lock_statement, _require_crisis_in_force
from .mandates import _require_mandate
from .models import (
    ApprovalRequest,
    ApprovalStatus,
    Statement,
    StatementPost,
    StatementStatus,
)
from .selectors import plain_error


def _publish(*, actor, statement: Statement, at, auto=False) -> list[Post]:
    """Create the exempt posts and mark the statement `publishing`: it becomes `published`
    only when every one of them is out (statement_sync_published)."""
    run = (
        ApprovalRequest.objects.filter(statement=statement, status=ApprovalStatus.APPROVED)
        .select_related("revision")
        .order_by("-finished_at")
        .first()
    )
    # The approval is bound to a revision: only that exact text, and only if it is still current.
    if run is None or run.revision.number != statement.revision:
        raise ConflictError(_("The current revision is not approved."))
    rev = run.revision
    accounts = list(SocialAccount.objects.filter(pk__in=rev.account_ids, is_active=True).order_by("pk"))
    if len(accounts) != len(rev.account_ids):
        raise ConflictError(_("An account of this statement is no longer active."), field="accounts")
    posts = []
    for account in accounts:
        # Exempt for this statement's crisis only: a later crisis's closed gate holds it back.
        post = post_create(
            actor=actor, account=account, body=rev.body, scheduled_at=at, exempt=statement.crisis
        )
        StatementPost.objects.create(statement=statement, revision=rev, post=post)
        posts.append(post)
    statement.status = StatementStatus.PUBLISHING
    statement.published_at = None
    statement.updated_at = timezone.now()
    statement.save(update_fields=["status", "published_at", "updated_at"])
    audit_record(
        actor=actor,
        action="statement.publish",
        obj=statement,
        details={
            "revision": rev.number,
            "request": run.pk,
            "at": at,
            "posts": [p.pk for p in posts],
            "accounts": [a.pk for a in accounts],
            "automatic": auto,
        },
    )
    return posts


def statement_check_publish(*, actor, statement) -> None:
    """The DCO, or the author under a mandate, publishes an approved statement of the crisis in
    force (403/409). The page asks the same (actions.py)."""
    if not has_role(actor, DCO):
        if actor.pk != statement.author_id:
            raise NotAllowedError(_("Only the DCO or the author publishes a statement."))
        _require_mandate(actor=actor, crisis=statement.crisis, accounts=list(statement.accounts.all()))
    if statement.status != StatementStatus.APPROVED:
        raise ConflictError(
            _("Only an approved statement is published; this one is %(status)s.")
            % {"status": statement.get_status_display()}
        )
    _require_crisis_in_force(statement)


@transaction.atomic
def statement_publish_planned(*, actor, statement) -> list[Post]:
    """What follows a final approval, called by whoever recorded it (API, page), in the same
    transaction: the plan the author chose. No time -> out now; a time still ahead -> out then; a
    time that passed during the review -> nothing: it waits for someone to give a new time
    (statement_publish), never bursts out late. Only for the crisis in force. Returns the posts
    made (none when the statement is not approved or waits for a new time)."""
    statement = _lock_statement(statement)
    if statement.status != StatementStatus.APPROVED:
        return []
    current = crisis_open()
    if current is None or current.pk != statement.crisis_id:
        return []
    now = timezone.now()
    if statement.planned_at is None:
        return _publish(actor=actor, statement=statement, at=now, auto=True)
    if statement.planned_at > now:
        return _publish(actor=actor, statement=statement, at=statement.planned_at, auto=True)
    return []


@transaction.atomic
def statement_publish(*, actor, statement, at=None) -> list[Post]:
    """Exempt posts on the chosen accounts, now or at `at`, only for the crisis in force."""
    statement = _lock_statement(statement)
    statement_check_publish(actor=actor, statement=statement)
    now = timezone.now()
    if at is None:
        at = now
    elif at < now - CLOCK_SKEW:
        raise ServiceError(_("Give a time that is not past."), field="at")
    return _publish(actor=actor, statement=statement, at=max(at, now))


@transaction.atomic
def statement_sync_published(*, post_id: int) -> Statement | None:
    """A statement post was saved as out: once every post of its statement is out, the statement
    is `published`. Runs in the transaction that published the post (the publisher or a person's
    post_mark_published, through statement_post_outcome). The statement row lock serialises two posts of one
    statement going out at the same moment: the second re-reads after the first commits."""
    statement_id = (
        StatementPost.objects.filter(post_id=post_id).values_list("statement_id", flat=True).first()
    )
    if statement_id is None:
        return None
    statement = Statement.objects.select_for_update().get(pk=statement_id)
    if statement.status != StatementStatus.PUBLISHING:
        return statement
    posts = list(
        Post.objects.filter(statement_link__statement_id=statement_id).values_list(
            "pk", "status", "published_at"
        )
    )
    if not posts or any(status != PostStatus.PUBLISHED for _pk, status, _at in posts):
        return statement
    statement.status = StatementStatus.PUBLISHED
    statement.published_at = max((at for _pk, _s, at in posts if at), default=timezone.now())
    statement.updated_at = timezone.now()
    statement.save(update_fields=["status", "published_at", "updated_at"])
    audit_record(
        actor=None,
        action="statement.published",
        obj=statement,
        details={
            "revision": statement.revision,
            "posts": sorted(pk for pk, _s, _at in posts),
            "published_at": statement.published_at,
        },
    )
    return statement


def statement_post_outcome(*, post, outcome: str, actor=None) -> None:
    """Registered with apps.posts.listeners (StatementsConfig.ready): posts calls it after it
    saved a post's outcome, in that transaction. Out -> the statement may now be published; handed
    to a person or failed for good -> someone is told. Posts of no statement: one query, nothing."""
    if outcome == Outcome.PUBLISHED:
        statement_sync_published(post_id=post.pk)
    elif outcome in (Outcome.ASSIGNED, Outcome.FAILED):
        statement_post_needs_person(post=post, told_by=actor)


@transaction.atomic
def statement_post_needs_person(*, post, told_by=None) -> None:
    """A statement post now waits for a person (called in the saving transaction by
    statement_post_outcome: the publisher's outcomes and post_hand_to_person's): a to-do by hand
    → its assignee is told; a post the network refused for good → every DCO is told (in-app and
    e-mail), since nothing else will send it. At 2 a.m. nobody reads a page."""
    link = StatementPost.objects.filter(post_id=post.pk).select_related("statement").first()
    if link is None:
        return
    statement = link.statement
    context = {
        "statement": statement.pk,
        "post": post.pk,
        "account": str(post.account),
        "body": post.body[:500],
    }
    if post.status == PostStatus.PUBLISHING and post.assignee_id:
        if told_by is not None and told_by.pk == post.assignee_id:
            return  # took it on themselves
        notify_users(
            event="statement.post_by_hand",
            user_ids=[post.assignee_id],
            context={
                **context,
                "subject": _("A statement post to publish by hand"),
                "message": _("Publish statement #%(id)s on %(account)s by hand, then press “I published it”.")
                % {"id": statement.pk, "account": post.account},
            },
            crisis_id=statement.crisis_id,
            actor=told_by,
        )
    elif post.status == PostStatus.FAILED:
        dcos = list(
            get_user_model()
            .objects.filter(is_active=True, groups__name=DCO)
            .values_list("pk", flat=True)
            .distinct()
        )
        if dcos:
            notify_users(
                event="statement.post_failed",
                user_ids=dcos,
                context={
                    **context,
                    "subject": _("A statement post failed"),
                    "message": _(
                        "Statement #%(id)s did not go out on %(account)s: %(error)s "
                        "Retry it or publish it by hand from the statement's page."
                    )
                    % {"id": statement.pk, "account": post.account, "error": plain_error(post.last_error)},
                },
                crisis_id=statement.crisis_id,
                actor=None,
            )


def _statement_post(statement, post) -> Post:
    post_id = getattr(post, "pk", post)
    if not isinstance(post_id, int) or not 0 < post_id < 2**31:  # a bigger id is no post (and no 500)
        raise ServiceError(_("This post is not one of this statement's posts."), field="post")
    link = StatementPost.objects.filter(statement_id=statement.pk, post_id=post_id).first()
    if link is None:
        raise ServiceError(_("This post is not one of this statement's posts."), field="post")
    return Post.objects.select_for_update(of=("self",)).select_related("account").get(pk=post_id)


@transaction.atomic
def statement_post_mark_published(*, actor, statement, post, external_url: str = "") -> Post:
    """“I published it”: the person the post was handed to, or any DCO, says it is out (the posts
    service checks who and in what state). The statement follows (statement_sync_published)."""
    post = _statement_post(statement, post)
    post = post_mark_published(actor=actor, post=post, external_url=(external_url or "").strip())
    audit_record(
        actor=actor,
        action="statement.post_mark_published",
        obj=statement,
        details={"post": post.pk, "account": post.account_id, "external_url": post.external_url},
    )
    return post


@transaction.atomic
def statement_post_retry(*, actor, statement, post) -> Post:
    """A failed post of the statement is sent again now (DCO only)."""
    require_role(actor, DCO, message=_("Only the DCO retries a statement's post."))
    post = _statement_post(statement, post)
    _require_crisis_in_force(statement)
    if post.status != PostStatus.FAILED:
        raise ConflictError(
            _("Only a failed post is retried; this one is %(status)s.")
            % {"status": post.get_status_display()}
        )
    attempts, error = post.attempts, post.last_error
    post = post_update(actor=actor, post=post, data={"scheduled_at": timezone.now()})
    audit_record(
        actor=actor,
        action="statement.post_retry",
        obj=statement,
        details={"post": post.pk, "account": post.account_id, "attempts": attempts, "error": error[:500]},
    )
    return post


@transaction.atomic
def statement_post_by_hand(*, actor, statement, post, assignee=None) -> Post:
    """A failing post of the statement becomes a to-do for a person (the DCO by default), who
    publishes it by hand and then says so: what the manual connector does for networks without
    an API. The publisher no longer touches it (it skips posts with an assignee). The post's
    state is the posts service's (post_hand_to_person: it re-checks it on the locked row and
    refuses a post whose send is in flight); its listener call tells the assignee."""
    require_role(actor, DCO, message=_("Only the DCO hands a statement's post to a person."))
    # Gate before row, as a send locks them (post_hand_to_person): the other order can deadlock
    # with a send and a declaration waiting between them. It also holds a crisis's end back.
    gate_lock_shared()
    post = _statement_post(statement, post)
    _require_crisis_in_force(statement)
    if isinstance(assignee, int):
        assignee = get_user_model().objects.filter(pk=assignee, is_active=True).first()
        if assignee is None:
            raise ServiceError(_("No active person has this id."), field="assignee")
    post = post_hand_to_person(actor=actor, post=post, assignee=assignee or actor)
    audit_record(
        actor=actor,
        action="statement.post_by_hand",
        obj=statement,
        details={
            "post": post.pk,
            "account": post.account_id,
            "assignee": post.assignee_id,
            "error": post.last_error[:500],
        },
    )
    return post
