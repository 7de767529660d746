"""Posts: official accounts, the calendar, the gate, and the publisher's state changes.

Every function here that changes state runs in a transaction and writes its audit entry there.
The publisher knows only the gate (GateClosure), never what a crisis is.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.roles import DCO, has_role
from apps.audit.services import audit_record
from apps.core import outbound
from crisiscomm.api import ConflictError, NotAllowedError, ServiceError

from .connectors import ConnectorError, get_connector
from .locks import gate_lock_exclusive, gate_lock_shared
from .models import GateClosure, Network, Post, PostStatus, SocialAccount

# A `publishing` claim older than this, with no send holding its row, is sent again (same key).
STALE_CLAIM = timedelta(minutes=15)
MAX_ATTEMPTS = 5


class NetworkError(ServiceError):
    """The network did not do what we asked (retraction failed)."""

    status_code = 502

    def __init__(self, message, *, field=None, code="network_error"):
        super().__init__(message, field=field, code=code)


def _require_dco(actor):
    if not has_role(actor, DCO):
        raise NotAllowedError(_("Only a communication directorate officer (dco) may do this."))


def _aware(value, field):
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise ServiceError(_("A date and time with a time zone is required."), field=field)
    return value


def retry_delay(attempts: int) -> int:
    """Seconds before the next try: 30 s, doubling, at most 10 minutes (below STALE_CLAIM)."""
    return min(30 * 2 ** max(attempts - 1, 0), 600)


# --- official accounts -------------------------------------------------------------------------


# outbound (issue 10): the config keys that name where a connector sends.
TARGET_KEYS = ("base_url", "url")


def _check_targets(config):
    if isinstance(config, dict):
        for key in TARGET_KEYS:
            if config.get(key):
                outbound.validate_url(str(config[key]), field=f"config.{key}")


def _require_secrets_for_new_target(account, given):
    """A new target needs its secret given again: the stored token is never sent to an address
    it was not entered for (a hijacked account cannot redirect it to its own server)."""
    moved = [
        k
        for k in TARGET_KEYS
        if k in given and str(given[k]).rstrip("/") != str(account.config.get(k, "")).rstrip("/")
    ]
    if not moved:
        return
    for key in get_connector(account.connector).secret_keys:
        if not str(given.get(key) or "").strip():
            raise ServiceError(
                _("Changing %(target)s needs %(secret)s again.") % {"target": moved[0], "secret": key},
                field=f"config.{key}",
                code="secret_required",
            )


@transaction.atomic
def social_account_create(*, actor, network, handle, connector, config=None, is_active=True) -> SocialAccount:
    _require_dco(actor)
    if network not in Network.values:
        raise ServiceError(_("Unknown network."), field="network")
    handle = (handle or "").strip()
    if not handle:
        raise ServiceError(_("A handle is required."), field="handle")
    _check_targets(config)  # outbound: loopback/private targets refused, naming config.<key>
    config = get_connector(connector).clean_config(config or {}, network=network)
    if SocialAccount.objects.filter(network=network, handle=handle).exists():
        raise ConflictError(_("This account already exists."), field="handle")
    account = SocialAccount.objects.create(
        network=network, handle=handle, connector=connector, config=config, is_active=is_active
    )
    audit_record(
        actor=actor,
        action="account.create",
        obj=account,
        details={"network": network, "handle": handle, "connector": connector},
    )
    return account


@transaction.atomic
def social_account_update(*, actor, account, **changes) -> SocialAccount:
    """Change handle, connector, config or is_active. A config given without its secrets keeps
    the stored ones (secrets are write-only)."""
    _require_dco(actor)
    account = SocialAccount.objects.select_for_update().get(pk=account.pk)
    allowed = {"handle", "connector", "config", "is_active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ServiceError(_("These fields cannot be changed."), field=sorted(unknown)[0])
    connector = changes.get("connector", account.connector)
    if "config" in changes or "connector" in changes:
        given = changes.get("config", account.config) or {}
        _check_targets(given)  # outbound: loopback/private targets refused, naming config.<key>
        if connector == account.connector and isinstance(given, dict):
            _require_secrets_for_new_target(account, given)
            for key in get_connector(connector).secret_keys:
                given.setdefault(key, account.config.get(key))
        changes["config"] = get_connector(connector).clean_config(given, network=account.network)
    if "handle" in changes:
        changes["handle"] = (changes["handle"] or "").strip()
        if not changes["handle"]:
            raise ServiceError(_("A handle is required."), field="handle")
    for field, value in changes.items():
        setattr(account, field, value)
    account.save(update_fields=list(changes))
    audit_record(
        actor=actor,
        action="account.update",
        obj=account,
        details={"fields": sorted(changes), "connector": account.connector, "is_active": account.is_active},
    )
    return account


# --- the calendar ------------------------------------------------------------------------------


@transaction.atomic
def post_create(*, actor, account, body, scheduled_at, exempt=False, awaiting_approval=False) -> Post:
    """The only way to make a post. `exempt` (passes a closed gate) is for server-side callers
    only (approved crisis statements); the API never accepts it. A plain post needs a dco actor;
    exempt or held posts come from the statements service, which checks its own rights."""
    if not (exempt or awaiting_approval):
        _require_dco(actor)
    if not (body or "").strip():
        raise ServiceError(_("The post is empty."), field="body")
    _aware(scheduled_at, "scheduled_at")
    if not account.is_active:
        raise ServiceError(_("This account is not active."), field="account")
    closure = GateClosure.objects.filter(is_current=True).first()
    frozen = closure is not None and not exempt
    post = Post.objects.create(
        account=account,
        body=body,
        scheduled_at=scheduled_at,
        exempt=exempt,
        awaiting_approval=awaiting_approval,
        # During a freeze a new non-exempt post joins the frozen ones and their review.
        status=PostStatus.FROZEN if frozen else PostStatus.SCHEDULED,
        frozen_by=closure if frozen else None,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action="post.create",
        obj=post,
        details={
            "account": account.pk,
            "scheduled_at": scheduled_at.isoformat(),
            "exempt": exempt,
            "awaiting_approval": awaiting_approval,
            "status": post.status,
        },
    )
    return post


@transaction.atomic
def post_update(*, actor, post, **changes) -> Post:
    """Edit body, scheduled_at or account of a post not yet sent. A failed post given a new
    time is scheduled again."""
    _require_dco(actor)
    post = Post.objects.select_for_update().get(pk=post.pk)
    unknown = set(changes) - {"body", "scheduled_at", "account"}
    if unknown:
        raise ServiceError(_("These fields cannot be changed."), field=sorted(unknown)[0])
    if post.status not in (PostStatus.SCHEDULED, PostStatus.FROZEN, PostStatus.FAILED):
        raise ConflictError(
            _("A post that is %(status)s can no longer be edited.") % {"status": post.get_status_display()}
        )
    if "body" in changes and not (changes["body"] or "").strip():
        raise ServiceError(_("The post is empty."), field="body")
    if "scheduled_at" in changes:
        _aware(changes["scheduled_at"], "scheduled_at")
        if post.status == PostStatus.FROZEN:
            raise ConflictError(
                _("A frozen post gets its new time through the crisis review."), field="scheduled_at"
            )
    if "account" in changes and not changes["account"].is_active:
        raise ServiceError(_("This account is not active."), field="account")
    fields = list(changes)
    for field, value in changes.items():
        setattr(post, field, value)
    if post.status == PostStatus.FAILED and "scheduled_at" in changes:
        post.status, post.attempts, post.last_error = PostStatus.SCHEDULED, 0, ""
        fields += ["status", "attempts", "last_error"]
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
    _require_dco(actor)
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.status == PostStatus.FROZEN:
        raise ConflictError(_("A frozen post is cancelled through the crisis review."))
    if post.status not in (PostStatus.SCHEDULED, PostStatus.FAILED):
        raise ConflictError(
            _("A post that is %(status)s cannot be cancelled.") % {"status": post.get_status_display()}
        )
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
    if post.status not in (PostStatus.SCHEDULED, PostStatus.FROZEN):
        raise ConflictError(
            _("A post that is %(status)s cannot be held or released.") % {"status": post.get_status_display()}
        )
    fields = ["awaiting_approval", "updated_at"]
    post.awaiting_approval = bool(awaiting_approval)
    if scheduled_at is not None:
        post.scheduled_at = _aware(scheduled_at, "scheduled_at")
        fields.append("scheduled_at")
    post.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="post.hold" if awaiting_approval else "post.release_hold",
        obj=post,
        details={"scheduled_at": post.scheduled_at.isoformat()},
    )
    return post


# --- the gate ----------------------------------------------------------------------------------


@transaction.atomic
def gate_close(*, actor, reason: str) -> tuple[GateClosure, int]:
    """Close the gate and freeze, in ONE statement, every non-exempt post not yet sent.

    Waits (fairly) for in-flight sends to finish, so nothing leaves once this commits. Must be the
    first lock its transaction takes (the crises service calls it first)."""
    gate_lock_exclusive()
    if GateClosure.objects.filter(is_current=True).exists():
        raise ConflictError(_("The publishing gate is already closed."), code="gate_closed")
    closure = GateClosure.objects.create(reason=reason[:200], closed_at=timezone.now())
    # `publishing` too: a claimed post whose send has not started must not leave either.
    frozen = Post.objects.filter(
        status__in=[PostStatus.SCHEDULED, PostStatus.PUBLISHING], exempt=False
    ).update(status=PostStatus.FROZEN, frozen_by=closure)
    audit_record(actor=actor, action="gate.close", obj=closure, details={"frozen": frozen, "reason": reason})
    return closure, frozen


@transaction.atomic
def gate_open(*, actor, closure: GateClosure) -> GateClosure:
    closure = GateClosure.objects.select_for_update().get(pk=closure.pk)
    if not closure.is_current:
        raise ConflictError(_("The publishing gate is already open."))
    closure.opened_at, closure.is_current = timezone.now(), None
    closure.save(update_fields=["opened_at", "is_current"])
    audit_record(actor=actor, action="gate.open", obj=closure)
    return closure


# --- the publisher -----------------------------------------------------------------------------


@transaction.atomic
def posts_claim_due(*, limit: int | None = None) -> list[int]:
    """Claim due posts (SELECT … FOR UPDATE SKIP LOCKED, so concurrent publishers share the
    work) and mark them `publishing`. While the gate is closed only exempt posts are claimed,
    and any non-exempt post that slipped in as scheduled is frozen."""
    limit = limit or settings.CRISISCOMM_PUBLISH_BATCH
    gate_lock_shared()
    now = timezone.now()
    closure = GateClosure.objects.filter(is_current=True).first()
    due = Post.objects.filter(
        status=PostStatus.SCHEDULED, awaiting_approval=False, scheduled_at__lte=now, account__is_active=True
    )
    if closure is not None:
        late = Post.objects.filter(status=PostStatus.SCHEDULED, exempt=False).update(
            status=PostStatus.FROZEN, frozen_by=closure
        )
        if late:
            audit_record(actor=None, action="post.freeze", obj=closure, details={"frozen": late})
        due = due.filter(exempt=True)
    ids = list(
        due.order_by("scheduled_at", "id")
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("id", flat=True)[:limit]
    )
    if ids:
        Post.objects.filter(pk__in=ids).update(status=PostStatus.PUBLISHING, claimed_at=now, assignee=None)
        audit_record(actor=None, action="post.claim", object_type="posts.post", details={"posts": ids})
    return ids


@transaction.atomic
def posts_reclaim_stale(*, older_than: timedelta = STALE_CLAIM) -> list[int]:
    """`publishing` posts whose send was lost (worker died, task dropped): send them again.
    A send in progress holds its row lock, so SKIP LOCKED leaves it alone; the resend carries
    the same idempotency key, so a network that got the first one does not publish twice."""
    now = timezone.now()
    ids = list(
        Post.objects.filter(
            status=PostStatus.PUBLISHING, assignee__isnull=True, claimed_at__lt=now - older_than
        )
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)
    )
    if ids:
        Post.objects.filter(pk__in=ids).update(claimed_at=now)
        audit_record(actor=None, action="post.reclaim", object_type="posts.post", details={"posts": ids})
    return ids


class SendOutcome:
    PUBLISHED = "published"
    ASSIGNED = "assigned"
    RETRY = "retry"
    FAILED = "failed"
    FROZEN = "frozen"
    SKIPPED = "skipped"


@transaction.atomic
def post_send(*, post_id: int) -> str:
    """Send one claimed post through its connector. Holds the gate lock (shared) and the post's
    row across the network call, and checks the gate right before it: a declaration that commits
    has waited for this send, and any send after it sees the closed gate."""
    gate_lock_shared()
    post = Post.objects.select_for_update(of=("self",)).select_related("account").filter(pk=post_id).first()
    if post is None or post.status != PostStatus.PUBLISHING or post.assignee_id:
        return SendOutcome.SKIPPED  # already sent, frozen, cancelled, or a to-do for a person
    closure = GateClosure.objects.filter(is_current=True).first()
    if closure is not None and not post.exempt:
        post.status, post.frozen_by = PostStatus.FROZEN, closure
        post.save(update_fields=["status", "frozen_by", "updated_at"])
        audit_record(actor=None, action="post.freeze", obj=post, details={"closure": closure.pk})
        return SendOutcome.FROZEN
    if post.awaiting_approval:  # held after its claim: back to the calendar
        post.status = PostStatus.SCHEDULED
        post.save(update_fields=["status", "updated_at"])
        return SendOutcome.SKIPPED

    post.attempts += 1
    try:
        result = get_connector(post.account.connector).send(post)
    except ConnectorError as exc:
        post.last_error = str(exc)[:2000]
        post.claimed_at = timezone.now()
        fields = ["attempts", "last_error", "claimed_at", "updated_at"]
        if exc.retryable and post.attempts < MAX_ATTEMPTS:
            post.save(update_fields=fields)
            audit_record(actor=None, action="post.send_error", obj=post, details={"attempt": post.attempts})
            return SendOutcome.RETRY
        post.status = PostStatus.FAILED
        post.save(update_fields=[*fields, "status"])
        audit_record(
            actor=None,
            action="post.fail",
            obj=post,
            details={"attempts": post.attempts, "error": post.last_error},
        )
        return SendOutcome.FAILED

    if result.assignee is not None:
        post.assignee = result.assignee
        post.save(update_fields=["attempts", "assignee", "updated_at"])
        audit_record(actor=None, action="post.assign", obj=post, details={"assignee": result.assignee.pk})
        return SendOutcome.ASSIGNED
    post.status = PostStatus.PUBLISHED
    # outbound: a network's answer becomes a link on the pages only when it is http(s).
    post.external_id, post.external_url = (
        result.external_id,
        outbound.safe_http_url(result.external_url)[:500],
    )
    post.published_at, post.last_error = timezone.now(), ""
    post.save(
        update_fields=[
            "status",
            "attempts",
            "external_id",
            "external_url",
            "published_at",
            "last_error",
            "updated_at",
        ]
    )
    audit_record(
        actor=None,
        action="post.publish",
        obj=post,
        details={"external_id": post.external_id, "exempt": post.exempt},
    )
    return SendOutcome.PUBLISHED


@transaction.atomic
def post_mark_published(*, actor, post, external_url: str = "", external_id: str = "") -> Post:
    """The assignee of a manual post (or a dco) says it is out."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    if not (has_role(actor, DCO) or (post.assignee_id and post.assignee_id == actor.pk)):
        raise NotAllowedError(_("Only the assignee of this post or a dco may mark it published."))
    if post.status != PostStatus.PUBLISHING or not post.assignee_id:
        if post.status == PostStatus.FROZEN:
            raise ConflictError(_("This post is frozen by a crisis: do not publish it."), code="frozen")
        raise ConflictError(_("This post is not waiting to be published by hand."))
    if external_url and not external_url.startswith(("http://", "https://")):
        raise ServiceError(_("Enter an http(s) URL."), field="external_url")
    post.status, post.published_at = PostStatus.PUBLISHED, timezone.now()
    post.external_url, post.external_id = external_url[:500], external_id[:200]
    post.save(update_fields=["status", "published_at", "external_url", "external_id", "updated_at"])
    audit_record(actor=actor, action="post.publish", obj=post, details={"manual": True})
    return post


@transaction.atomic
def post_retract(*, actor, post) -> Post:
    """Delete a published post from its network (Mastodon), e.g. one sent just before a crisis."""
    _require_dco(actor)
    post = Post.objects.select_for_update(of=("self",)).select_related("account").get(pk=post.pk)
    connector = get_connector(post.account.connector)
    if post.status != PostStatus.PUBLISHED or not post.external_id:
        raise ConflictError(_("Only a post published through a network API can be retracted."))
    if post.retracted_at:
        raise ConflictError(_("This post has already been retracted."))
    if not connector.can_retract:
        raise ConflictError(_("This connector cannot delete a published post."))
    try:
        connector.retract(post)
    except ConnectorError as exc:
        raise NetworkError(_("The network refused the deletion: %(error)s") % {"error": exc}) from exc
    post.retracted_at = timezone.now()
    post.save(update_fields=["retracted_at", "updated_at"])
    audit_record(actor=actor, action="post.retract", obj=post, details={"external_id": post.external_id})
    return post
