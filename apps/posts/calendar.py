"""The calendar: a post's life before it is sent (create, edit, cancel, hold for approval).

Every change runs in a transaction with its audit entry. `frozen` is derived
(apps.posts.selectors): a frozen post is decided through the crisis review, never edited here.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError, ServiceError
from apps.core.roles import DCO, require_role

from .listeners import posts_content_changing
from .locks import gate_lock_shared
from .models import GateClosure, Post, PostStatus
from .selectors import _UNSET, post_is_frozen


def _aware(value, field):
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise ServiceError(_("A date and time with a time zone is required."), field=field)
    return value


def local_time(*, value) -> str:
    """A time as the reader reads it: the service's time zone, their language's format, no
    seconds fractions (never an ISO string in a message)."""
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _not_in_the_past(value, field="scheduled_at"):
    # The current minute is still "now": a form that says 10:05 at 10:05:30 means now.
    if value < timezone.now().replace(second=0, microsecond=0):
        raise ServiceError(
            _("%(at)s is in the past: choose a later time, or publish now.")
            % {"at": local_time(value=value)},
            field=field,
            code="in_the_past",
        )
    return value


# --- the calendar ------------------------------------------------------------------------------


def _exempt_closure(exempt):
    """What `exempt` binds the post to: True = the closure in force now (read under the gate
    lock, so it cannot change before this transaction commits); a Crisis or a GateClosure =
    that one. Returns (is_statement, closure or None)."""
    if exempt is None or exempt is False:
        return False, None
    if exempt is True:
        return True, GateClosure.objects.filter(is_current=True).first()
    if isinstance(exempt, GateClosure):
        return True, exempt
    closure_id = getattr(exempt, "gate_closure_id", None)  # a Crisis
    if closure_id is None:
        raise ServiceError(_("An exemption is granted for a crisis."), field="exempt")
    return True, GateClosure.objects.get(pk=closure_id)


@transaction.atomic
def post_create(
    *, actor, account, body, scheduled_at=None, exempt=False, awaiting_approval=False, publish_now=False
) -> Post:
    """The only way to make a post. `exempt` (passes the closed gate of ONE crisis) is for
    server-side callers only (approved crisis statements); the API never accepts it: pass the
    crisis (or True: the crisis in force now). A plain post needs a dco actor; exempt or held
    posts come from the statements service, which checks its own rights. A time in the past is
    refused; `publish_now` is the explicit "send it at once"."""
    if not (exempt or awaiting_approval):
        require_role(actor, DCO)
    if not (body or "").strip():
        raise ServiceError(_("The post is empty."), field="body")
    if publish_now:
        if scheduled_at is not None:
            raise ServiceError(_("Give a time or publish now, not both."), field="scheduled_at")
        scheduled_at = timezone.now()
    elif scheduled_at is None:
        raise ServiceError(_("A date and time with a time zone is required."), field="scheduled_at")
    _aware(scheduled_at, "scheduled_at")
    if not publish_now and not exempt:
        _not_in_the_past(scheduled_at)
    if not account.is_active:
        raise ServiceError(_("This account is not active."), field="account")
    # Shared gate lock: a creation never straddles a lift or a stand-down (the approval sees this
    # post among the undecided ones, or the post is made after the gate opened).
    gate_lock_shared()
    is_statement, closure = _exempt_closure(exempt)
    post = Post.objects.create(
        account=account,
        body=body,
        scheduled_at=scheduled_at,
        exempt=is_statement,
        exempt_closure=closure,
        awaiting_approval=awaiting_approval,
        status=PostStatus.SCHEDULED,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action="post.create",
        obj=post,
        details={
            "account": account.pk,
            "scheduled_at": scheduled_at.isoformat(),
            "exempt": is_statement,
            "exempt_closure": closure.pk if closure else None,
            "awaiting_approval": awaiting_approval,
            "publish_now": bool(publish_now),
        },
    )
    return post


# A post not yet sent: it may still be edited or cancelled.
CHANGEABLE_STATUSES = (PostStatus.SCHEDULED, PostStatus.FAILED, PostStatus.UNCERTAIN)


def post_check_update(*, actor, post) -> None:
    """Who may edit a post, and when: a dco, the post not yet sent. Raises the service's error."""
    require_role(actor, DCO)
    if post.status not in CHANGEABLE_STATUSES:
        raise ConflictError(
            _("A post that is %(status)s can no longer be edited.") % {"status": post.get_status_display()}
        )


def post_check_cancel(*, actor, post, closure=_UNSET) -> None:
    """Who may cancel a post, and when: a dco, the post not yet sent and not frozen (a frozen
    post's fate is the crisis review's). Raises the service's error. `closure`: the gate's
    current closure when the caller read it (a page of many posts)."""
    require_role(actor, DCO)
    if post_is_frozen(post=post, closure=closure):
        raise ConflictError(_("A frozen post is cancelled through the crisis review."))
    if post.status not in CHANGEABLE_STATUSES:
        raise ConflictError(
            _("A post that is %(status)s cannot be cancelled.") % {"status": post.get_status_display()}
        )


@transaction.atomic
def post_update(*, actor, post, data: dict) -> Post:
    """Edit body, scheduled_at or account of a post not yet sent (`data`: the changes, the one
    way every update service takes them). A failed post given a new time is scheduled again."""
    require_role(actor, DCO)
    post = Post.objects.select_for_update().get(pk=post.pk)
    changes = dict(data)
    unknown = sorted(set(changes) - {"body", "scheduled_at", "account"})
    if unknown:
        raise ServiceError(
            _("This field cannot be changed here: %(f)s.") % {"f": unknown[0]}, field=unknown[0]
        )
    frozen = post_is_frozen(post=post)
    post_check_update(actor=actor, post=post)
    if "body" in changes and not (changes["body"] or "").strip():
        raise ServiceError(_("The post is empty."), field="body")
    for field, now in (("body", post.body), ("account", post.account)):
        # An exempt post is the approved text of a statement (only the statements service makes
        # one, from the approved revision): its words and account are fixed; the database agrees.
        if post.exempt and field in changes and changes[field] != now:
            raise ConflictError(
                _("This post is the approved text of a statement; change the statement instead."),
                field=field,
            )
    if "scheduled_at" in changes:
        _aware(changes["scheduled_at"], "scheduled_at")
        if frozen:
            raise ConflictError(
                _("A frozen post gets its new time through the crisis review."), field="scheduled_at"
            )
        if changes["scheduled_at"] != post.scheduled_at:
            _not_in_the_past(changes["scheduled_at"])
    if "account" in changes and not changes["account"].is_active:
        raise ServiceError(_("This account is not active."), field="account")
    fields = list(changes)
    for field, value in changes.items():
        setattr(post, field, value)
    if post.status in (PostStatus.FAILED, PostStatus.UNCERTAIN) and "scheduled_at" in changes:
        # Scheduled again (for an uncertain one: a person decided to send it again); during a
        # crisis that reads `frozen` (derived) and joins the review.
        post.status, post.attempts, post.last_error = PostStatus.SCHEDULED, 0, ""
        fields += ["status", "attempts", "last_error"]
    if changes:
        # Before the write, with the row locked: an approval bound to the old text, account or
        # time is voided and the post held again (statements' listener).
        posts_content_changing(posts=[post])
    post.save(update_fields=[*fields, "updated_at"])
    audit_record(
        actor=actor,
        action="post.update",
        obj=post,
        details={"fields": sorted(changes), "status": post.status},
    )
    return post


@transaction.atomic
def post_cancel(*, actor, post) -> Post:
    require_role(actor, DCO)
    post = Post.objects.select_for_update().get(pk=post.pk)
    post_check_cancel(actor=actor, post=post)
    post.status = PostStatus.CANCELLED
    post.save(update_fields=["status", "updated_at"])
    audit_record(actor=actor, action="post.cancel", obj=post)
    return post


@transaction.atomic
def post_set_hold(*, actor, post, awaiting_approval: bool, scheduled_at=None) -> Post:
    """Hold a post back (awaiting_approval=True) or release it, optionally with a new time.
    Called by the statements service (which checks its own rights) around a validation chain;
    the publisher never claims a held post."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.status != PostStatus.SCHEDULED:
        raise ConflictError(
            _("A post that is %(status)s cannot be held or released.") % {"status": post.get_status_display()}
        )
    fields = ["awaiting_approval", "updated_at"]
    post.awaiting_approval = bool(awaiting_approval)
    if scheduled_at is not None:
        post.scheduled_at = _aware(scheduled_at, "scheduled_at")
        fields.append("scheduled_at")
        # A new time is a change of what an approval covers (a release binds it first).
        posts_content_changing(posts=[post])
    post.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="post.hold" if awaiting_approval else "post.release_hold",
        obj=post,
        details={"scheduled_at": post.scheduled_at.isoformat()},
    )
    return post
