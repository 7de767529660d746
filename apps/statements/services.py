"""State changes for mandates, statements and validation runs: one module per concept,
re-exported here so callers keep `from apps.statements import services`.

- mandates: who may speak (mandate_grant, mandate_revoke)
- drafting: statements written, revised, submitted, decided, withdrawn
- chain: the validation-chain engine shared by statement and post runs, and chain editing
- publishing: an approved statement's exempt posts and their follow-up
- post_approvals: calendar posts held until a chain approves them
- actions: what a person may do (statement_allowed_actions, approval_allowed_actions)

Every function takes the actor first, runs in one transaction, checks rights on the server and
writes its audit entry (and its notices) in that same transaction.
"""

from apps.core.errors import ConflictError, NotAllowedError, ServiceError

from .actions import (
    POST_ACTIONS,
    VERDICT_VERBS,
    approval_allowed_actions,
    mandate_allowed_actions,
    statement_allowed_actions,
    statement_pending_run,
    statements_page_actions,
)
from .chain import (
    AUDIT_VERB,
    CHAIN_FIELDS,
    CLOCK_SKEW,
    STEP_FIELDS,
    Outcome,
    chain_create,
    chain_delete,
    chain_update,
    run_check_decide,
)
from .drafting import (
    EDITABLE,
    RUN_TO_STATEMENT,
    UNSET,
    WITHDRAW_STOPPABLE,
    statement_check_decide,
    statement_check_edit,
    statement_check_submit,
    statement_check_withdraw,
    statement_create,
    statement_decide,
    statement_edit,
    statement_submit,
    statement_withdraw,
)
from .mandates import mandate_grant, mandate_revoke
from .post_approvals import (
    post_approval_check_release,
    post_approval_check_request,
    post_approval_decide,
    post_approval_release,
    post_approval_request,
    post_runs_void_if_changed,
)
from .publishing import (
    statement_check_publish,
    statement_post_by_hand,
    statement_post_mark_published,
    statement_post_needs_person,
    statement_post_outcome,
    statement_post_retry,
    statement_publish,
    statement_publish_planned,
    statement_sync_published,
)

__all__ = [
    "AUDIT_VERB",
    "CHAIN_FIELDS",
    "CLOCK_SKEW",
    "EDITABLE",
    "POST_ACTIONS",
    "RUN_TO_STATEMENT",
    "STEP_FIELDS",
    "UNSET",
    "VERDICT_VERBS",
    "WITHDRAW_STOPPABLE",
    "ConflictError",
    "NotAllowedError",
    "Outcome",
    "ServiceError",
    "approval_allowed_actions",
    "chain_create",
    "chain_delete",
    "chain_update",
    "mandate_allowed_actions",
    "mandate_grant",
    "mandate_revoke",
    "post_approval_check_release",
    "post_approval_check_request",
    "post_approval_decide",
    "post_approval_release",
    "post_approval_request",
    "post_runs_void_if_changed",
    "run_check_decide",
    "statement_allowed_actions",
    "statement_check_decide",
    "statement_check_edit",
    "statement_check_publish",
    "statement_check_submit",
    "statement_check_withdraw",
    "statement_create",
    "statement_decide",
    "statement_edit",
    "statement_pending_run",
    "statement_post_by_hand",
    "statement_post_mark_published",
    "statement_post_needs_person",
    "statement_post_outcome",
    "statement_post_retry",
    "statement_publish",
    "statement_publish_planned",
    "statement_submit",
    "statement_sync_published",
    "statement_withdraw",
    "statements_page_actions",
]
