"""Calendar posts in normal times held until a validation chain approves them.

Concurrency: a post run locks the post, then its ApprovalRequest row (_lock_post_run)."""

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError, ServiceError
from apps.core.roles import DCO, require_role
from apps.notifications.services import notify_users
from apps.posts.models import Post, PostStatus
from apps.posts.services import post_set_hold

from .chain import (
    AUDIT_VERB,
    CLOCK_SKEW,
    _clean_verdict,
    _decision_text,
    _notify_reviewers,
    _run_decide,
    _run_start,
    _title,
)
from .models import (
    ApprovalKind,
    ApprovalRequest,
    ApprovalStatus,
    StatementPost,
    ValidationChain,
)


def _post_snapshot(post: Post) -> dict:
    """What a calendar post's approval covers: its text, its account and its time."""
    return {"body": post.body, "account": post.account_id, "scheduled_at": post.scheduled_at.isoformat()}


def _snapshot_matches(post: Post, snapshot: dict) -> bool:
    if snapshot.get("body") != post.body or snapshot.get("account") != post.account_id:
        return False
    # Runs asked before the time was part of the snapshot bind text and account only.
    return "scheduled_at" not in snapshot or parse_datetime(snapshot["scheduled_at"]) == post.scheduled_at


def post_runs_void_if_changed(*, posts: list[Post]) -> list[int]:
    """Registered with apps.posts.listeners (StatementsConfig.ready): posts calls it before it
    writes a new body, account or time (`posts` carry the new values, their rows locked), in the
    writing transaction. A pending or approved run whose snapshot no longer matches is voided
    and its post held again, so nothing goes out that the chain did not approve. One query for
    all the posts (the lift moves many). Returns the voided runs' ids."""
    by_pk = {post.pk: post for post in posts}
    runs = list(
        ApprovalRequest.objects.select_for_update()
        .filter(post_id__in=list(by_pk), status__in=[ApprovalStatus.PENDING, ApprovalStatus.APPROVED])
        .order_by("pk")
    )
    changed = [run for run in runs if not _snapshot_matches(by_pk[run.post_id], run.post_snapshot)]
    if not changed:
        return []
    now = timezone.now()
    for run in changed:
        was = run.status
        run.status, run.finished_at = ApprovalStatus.VOIDED, now
        run.save(update_fields=["status", "finished_at"])
        audit_record(
            actor=None,
            action="post_approval.void",
            obj=run,
            details={"post": run.post_id, "reason": "post changed", "was": was},
        )
    held = sorted({run.post_id for run in changed})
    # The caller's write may not list this field: set it on the rows and on the instances.
    for pk in held:
        by_pk[pk].awaiting_approval = True
    Post.objects.filter(pk__in=held).update(awaiting_approval=True)
    return [run.pk for run in changed]


def post_approval_check_request(*, actor, post: Post) -> None:
    """The DCO holds a scheduled calendar post for a chain (a statement's post was approved with
    its statement)."""
    require_role(actor, DCO, message=_("Only the DCO requires an approval for a post."))
    if post.exempt or StatementPost.objects.filter(post=post).exists():
        raise ConflictError(_("A statement's post was approved with its statement."), field="post")
    if post.status != PostStatus.SCHEDULED:
        raise ConflictError(
            _("A %(status)s post cannot wait for approval.") % {"status": post.get_status_display()},
            field="post",
        )


@transaction.atomic
def post_approval_request(*, actor, post: Post, chain: ValidationChain | None = None) -> ApprovalRequest:
    """Hold a calendar post until the chain approves it (the publisher never claims it meanwhile)."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    post_approval_check_request(actor=actor, post=post)
    run = _run_start(
        actor=actor,
        chain=chain,
        kind=ApprovalKind.POST,
        subject={"post": post},
        author_id=post.created_by_id,
        snapshot=_post_snapshot(post),
    )
    post_set_hold(actor=actor, post=post, awaiting_approval=True)
    audit_record(
        actor=actor,
        action="post_approval.request",
        obj=run,
        details={"post": post.pk, "chain": run.chain.name, **_post_snapshot(post)},
    )
    _notify_reviewers(run=run, author_id=post.created_by_id, post=post)
    return run


def _lock_post_run(approval) -> tuple[ApprovalRequest, Post]:
    """Lock the post, then its run: the order a post edit takes them in (post_update locks the
    post, then post_runs_void_if_changed, which it calls, locks the runs), so an edit racing a
    decision never deadlocks. No joins under the locks (see _lock_statement): current_step is
    read fresh after them."""
    post_id = (
        ApprovalRequest.objects.filter(pk=approval.pk, kind=ApprovalKind.POST)
        .values_list("post_id", flat=True)
        .get()
    )
    post = Post.objects.select_for_update().get(pk=post_id)
    run = ApprovalRequest.objects.select_for_update().get(pk=approval.pk, kind=ApprovalKind.POST)
    return run, post


def _release(*, actor, run, post, scheduled_at) -> bool:
    """Lift the hold if the post has a time still ahead; else it stays held for a new time."""
    now = timezone.now()
    if scheduled_at is not None and scheduled_at < now - CLOCK_SKEW:
        raise ServiceError(_("Give a time that is not past."), field="scheduled_at")
    when = scheduled_at or post.scheduled_at
    if when < now - CLOCK_SKEW:
        if not run.needs_new_time:
            run.needs_new_time = True
            run.save(update_fields=["needs_new_time"])
        return False
    new_time = max(scheduled_at, now) if scheduled_at else None
    if new_time is not None:
        # The approver gave this time: the approval covers it (post_set_hold's call of
        # post_runs_void_if_changed compares with it).
        run.post_snapshot = {**run.post_snapshot, "scheduled_at": new_time.isoformat()}
        run.save(update_fields=["post_snapshot"])
    post_set_hold(actor=actor, post=post, awaiting_approval=False, scheduled_at=new_time)
    if run.needs_new_time:
        run.needs_new_time = False
        run.save(update_fields=["needs_new_time"])
    return True


def post_approval_decide(
    *, actor, approval: ApprovalRequest, verdict: str, comment: str = "", step=None, scheduled_at=None
) -> ApprovalRequest:
    """Decide the current step of a post run. A post changed since approval was asked voids the
    run instead (an approval never covers a text nobody reviewed): the run comes back `voided`,
    committed, and the caller says so (the API answers 409). Never commit-then-raise."""
    with transaction.atomic():
        return _post_decide(
            actor=actor,
            approval=approval,
            verdict=verdict,
            comment=comment,
            step=step,
            scheduled_at=scheduled_at,
        )


def _post_decide(*, actor, approval, verdict, comment, step, scheduled_at):
    _clean_verdict(verdict, comment)
    run, post = _lock_post_run(approval)
    if run.status != ApprovalStatus.PENDING:
        raise ConflictError(
            _("This approval is %(status)s; nothing awaits a decision.")
            % {"status": run.get_status_display()}
        )
    if not _snapshot_matches(post, run.post_snapshot):
        # A change that bypassed the posts services (a bulk update, SQL): void here too.
        run.status, run.finished_at = ApprovalStatus.VOIDED, timezone.now()
        run.save(update_fields=["status", "finished_at"])
        audit_record(
            actor=actor,
            action="post_approval.void",
            obj=run,
            details={"post": post.pk, "reason": "post changed"},
        )
        return run
    outcome = _run_decide(
        actor=actor, run=run, verdict=verdict, comment=comment, author_id=post.created_by_id, step=step
    )
    released = None
    if outcome.finished and run.status == ApprovalStatus.APPROVED:
        released = _release(actor=actor, run=run, post=post, scheduled_at=scheduled_at)
    d = outcome.decision
    audit_record(
        actor=actor,
        action=f"post_approval.{AUDIT_VERB[verdict]}",
        obj=run,
        details={
            "post": post.pk,
            "step": d.step.name,
            "step_order": d.step.order,
            "comment": d.comment,
            "decision": d.pk,
            "final": outcome.finished,
            "status": run.status,
            "released": released,
        },
    )
    recipients = [post.created_by_id] if post.created_by_id else []
    recipients += [run.requested_by_id] if run.requested_by_id not in recipients else []
    notify_users(
        event="post.approval_decided",
        user_ids=[i for i in recipients if i != actor.pk],
        context={
            "post": post.pk,
            "request": run.pk,
            "verdict": verdict,
            "step": d.step.name,
            "status": run.status,
            "subject": _("Decision on a post awaiting approval"),
            "message": _("Post “%(title)s”: %(decision)s.")
            % {"title": _title(post.body), "decision": _decision_text(verdict, d.step.name, d.comment)},
        },
        actor=actor,
    )
    if outcome.advanced:
        _notify_reviewers(run=run, author_id=post.created_by_id, post=post)
    return run


def post_approval_check_release(*, actor, run: ApprovalRequest, post: Post) -> None:
    """The DCO gives a new time to a post approved after its time, if it is still what was approved."""
    require_role(actor, DCO, message=_("Only the DCO gives a held post a new time."))
    if run.status != ApprovalStatus.APPROVED or not run.needs_new_time:
        raise ConflictError(_("Only an approved post waiting for a new time is released here."))
    if not _snapshot_matches(post, run.post_snapshot):
        raise ConflictError(_("The post changed since it was approved; request approval again."))


@transaction.atomic
def post_approval_release(*, actor, approval: ApprovalRequest, scheduled_at) -> ApprovalRequest:
    """An approved post whose time passed while it waited: the DCO gives it a new time."""
    require_role(actor, DCO, message=_("Only the DCO gives a held post a new time."))
    if scheduled_at is None:
        raise ServiceError(_("Give the new time."), field="scheduled_at")
    run, post = _lock_post_run(approval)
    post_approval_check_release(actor=actor, run=run, post=post)
    _release(actor=actor, run=run, post=post, scheduled_at=scheduled_at)
    audit_record(
        actor=actor,
        action="post_approval.release",
        obj=run,
        details={"post": post.pk, "scheduled_at": scheduled_at},
    )
    return run
