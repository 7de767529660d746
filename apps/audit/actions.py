"""Every audit action the code writes, with the keys its `details` may carry.

`audit_record`/`audit_record_many` refuse (ValueError: a programming error, caught by the tests)
an action missing here or a details key its action does not declare, so that the trail's
vocabulary is one list a reader can trust: an auditor filtering on `statement.publish` finds
every publication, spelled one way, with the keys listed here. Names are `<thing>.<verb>`.
Keys are optional (a caller may leave one out), never unknown. Adding an action or a key: add it
here, in the same commit as the code that writes it.
"""

# A policy rule's fields, recorded whole when it is created or deleted.
RULE = (
    "account_kind",
    "advice_en",
    "advice_fr",
    "code",
    "condition",
    "enabled",
    "guide",
    "kind",
    "message_en",
    "message_fr",
    "networks",
    "on_photo",
    "passage_en",
    "passage_fr",
    "patterns",
    "quote_match",
    "severity",
    "suppresses",
)

# A decision at one step of a statement's validation chain.
STEP_DECISION = ("comment", "decision", "final", "request", "revision", "status", "step", "step_order")

# A decision at one step of a calendar post's approval chain.
POST_STEP_DECISION = ("comment", "decision", "final", "post", "released", "status", "step", "step_order")

ACTIONS: dict[str, frozenset[str]] = {
    name: frozenset(keys)
    for name, keys in {
        # account
        "account.create": (
            "connector",
            "department",
            "email",
            "fields",
            "handle",
            "language",
            "network",
            "password_changed",
            "roles",
            "via",
        ),
        "account.deactivate": ("email",),
        "account.login": ("client", "door", "who", "whom"),
        "account.login_failed": ("client", "door", "locked_out", "reason", "who", "whom"),
        "account.logout": ("client", "door", "who", "whom"),
        "account.password_set": ("created", "door", "tokens_revoked", "usable", "who", "whom"),
        "account.roles_change": ("after", "before", "door", "who", "whom"),
        "account.sso_link": ("issuer", "subject", "whom"),
        "account.sso_unlink": ("issuer", "subject", "whom"),
        "account.sso_login": (
            "changes",
            "created",
            "idp_groups",
            "linked",
            "preferred_username",
            "roles_added",
            "roles_removed",
            "sub",
        ),
        "account.update": ("changes", "connector", "email", "fields", "is_active", "roles", "via"),
        # chain
        "chain.change": ("is_default", "name", "steps"),
        "chain.create": ("is_default", "name", "steps"),
        "chain.delete": ("name",),
        # core
        "core.field_keys_rotate": ("changed", "keys"),
        # crisis
        "crisis.decide": ("decision", "post", "publish_now", "scheduled_at"),
        "crisis.decide_many": ("count", "posts"),
        "crisis.decide_matching": ("count", "decision", "filter", "publish_now", "scheduled_at"),
        "crisis.declare": ("freeze_until", "sends_in_flight", "severity", "title", "topics"),
        "crisis.end_withdraw": ("kind", "why"),
        "crisis.extend": ("from", "to"),
        "crisis.lift": ("posts", "requested_by"),
        "crisis.lift_request": ("checklist", "comment", "eligible_approvers"),
        "crisis.stand_down": ("posts", "requested_by"),
        "crisis.stand_down_request": ("eligible_approvers", "reason"),
        # gate
        "gate.close": ("reason", "sends_in_flight"),
        "gate.open": (),
        # mandate
        "mandate.grant": ("networks", "topics", "user", "username", "valid_from", "valid_until"),
        "mandate.revoke": ("reason", "user"),
        # notification
        "notification.acknowledge_batch": ("acknowledgements",),
        "notification.deliver_batch": ("cancelled", "channel", "failed", "retry", "sent"),
        "notification.materialise": ("crisis", "event", "rows"),
        "notification.materialise_arrivals": ("crisis", "event", "rows"),
        "notification.record": ("crisis", "event", "recipients"),
        "notification.remind": ("by", "crisis", "event", "round"),
        "notification.requeue_stale": ("notices",),
        "notification.webhook_create": ("department", "kind", "name"),
        "notification.webhook_delete": ("department", "kind", "name"),
        "notification.webhook_update": ("changed", "department", "kind", "name"),
        # policy
        "policy.embargo_create": ("terms", "topic", "until"),
        "policy.embargo_delete": ("terms", "topic", "until"),
        "policy.embargo_end": ("changes", "topic"),
        "policy.embargo_update": ("changes", "topic"),
        "policy.rule_create": RULE,
        "policy.rule_delete": RULE,
        "policy.rule_update": ("changes", "code"),
        "policy.ruling_delete": ("text_sha256", "verdict"),
        "policy.ruling_record": (
            "account_kind",
            "check_codes",
            "check_verdict",
            "crisis",
            "network",
            "source",
            "text_sha256",
            "verdict",
        ),
        # post
        "post.assign": ("assignee", "by_hand", "previous_status"),
        "post.cancel": (),
        "post.claim": ("posts",),
        "post.create": (
            "account",
            "awaiting_approval",
            "exempt",
            "exempt_closure",
            "publish_now",
            "scheduled_at",
        ),
        "post.fail": ("attempts", "error"),
        "post.freeze": ("closure",),
        "post.hold": ("scheduled_at",),
        "post.publish": ("exempt", "external_id", "manual"),
        "post.reclaim": ("posts",),
        "post.release_hold": ("scheduled_at",),
        "post.retract": ("external_id",),
        "post.send_error": ("attempt", "reached_network"),
        "post.uncertain": ("why",),
        "post.update": ("fields", "status"),
        # post_approval
        "post_approval.approve": POST_STEP_DECISION,
        "post_approval.reject": POST_STEP_DECISION,
        "post_approval.release": ("post", "scheduled_at"),
        "post_approval.request": ("account", "body", "chain", "post", "scheduled_at"),
        "post_approval.void": ("post", "reason", "was"),
        # staff
        "staff.import": (
            "created",
            "deactivate_missing",
            "deactivated",
            "rows",
            "source",
            "unchanged",
            "updated",
        ),
        # statement
        "statement.approve": STEP_DECISION,
        "statement.create": ("accounts", "body", "crisis", "planned_at", "revision"),
        "statement.edit": (
            "accounts",
            "body",
            "planned_at",
            "previous_status",
            "revision",
            "voided_requests",
        ),
        "statement.post_by_hand": ("account", "assignee", "error", "post"),
        "statement.post_mark_published": ("account", "external_url", "post"),
        "statement.post_retry": ("account", "attempts", "error", "post"),
        "statement.publish": ("accounts", "at", "automatic", "posts", "request", "revision"),
        "statement.published": ("posts", "published_at", "revision"),
        "statement.reject": STEP_DECISION,
        "statement.request_changes": STEP_DECISION,
        "statement.submit": ("chain", "request", "revision"),
        "statement.withdraw": ("cancelled_posts", "cancelled_requests", "reason", "revision"),
        # watch
        "watch.account_accept": ("comment", "kind", "network", "url"),
        "watch.account_create": ("kind", "network", "owners", "url", "via"),
        "watch.account_error": ("error",),
        "watch.account_propose": ("kind", "network", "owners", "url"),
        "watch.account_recovered": ("error",),
        "watch.account_reject": ("comment", "kind", "network", "url"),
        "watch.account_update": ("changed", "kind", "network", "url", "via"),
        "watch.import": ("created", "source", "unchanged", "updated"),
        "watch.owners_told": ("accounts", "owners"),
        "watch.sighting": ("account", "kind", "post", "verdict"),
        "watch.sighting_review": ("comment", "from", "to"),
    }.items()
}


def audit_action_check(*, action: str, details) -> None:
    """Refuse an undeclared action or details key (ValueError names it and where to declare it)."""
    keys = ACTIONS.get(action)
    if keys is None:
        raise ValueError(f"Unknown audit action {action!r}: declare it in apps/audit/actions.py.")
    undeclared = sorted(set(details or ()) - keys)
    if undeclared:
        raise ValueError(
            f"Audit action {action!r} has undeclared details key(s) {', '.join(undeclared)}: "
            "declare them in apps/audit/actions.py."
        )
