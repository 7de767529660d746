"""State changes for mandates, statements and validation runs: one module per concept,
re-exported here so callers keep `from apps.statements import services`.

- mandates: who may speak (mandate_grant, mandate_revoke)
- drafting: statements written, revised, submitted, decided, withdrawn
- chain: the validation-chain engine shared by statement and post runs, and chain editing
- publishing: an approved statement's exempt posts and their follow-up
- post_approvals: calendar posts held until a chain approves them

Every function takes the actor first, runs in one transaction, checks rights on the server and
writes its audit entry (and its notices) in that same transaction.
"""

from apps.core.errors import ConflictError, NotAllowedError, ServiceError

from .chain import AUDIT_VERB, CLOCK_SKEW, Outcome
from .drafting import (
    EDITABLE,
    RUN_TO_STATEMENT,
    UNSET,
    statement_create,
    statement_decide,
    statement_edit,
    statement_submit,
    statement_withdraw,
)
from .mandates import mandate_grant, mandate_revoke
from .post_approvals import (
    post_approval_decide,
    post_approval_release,
    post_approval_request,
    post_runs_void_if_changed,
)
from .publishing import (
    statement_post_by_hand,
    statement_post_mark_published,
    statement_post_needs_person,
    statement_post_retry,
    statement_publish,
    statement_sync_published,
)

__all__ = [
    "AUDIT_VERB",
    "CLOCK_SKEW",
    "EDITABLE",
    "RUN_TO_STATEMENT",
    "UNSET",
    "ConflictError",
    "NotAllowedError",
    "Outcome",
    "ServiceError",
    "mandate_grant",
    "mandate_revoke",
    "post_approval_decide",
    "post_approval_release",
    "post_approval_request",
    "post_runs_void_if_changed",
    "statement_create",
    "statement_decide",
    "statement_edit",
    "statement_post_by_hand",
    "statement_post_mark_published",
    "statement_post_needs_person",
    "statement_post_retry",
    "statement_publish",
    "statement_submit",
    "statement_sync_published",
    "statement_withdraw",
]
