"""Posts' services, one module per concept, re-exported here for callers:

- `accounts`: official accounts (targets and their secrets);
- `calendar`: a post before it is sent (create, edit, cancel, hold);
- `gate`: close and open the publishing gate (no post is written: `frozen` is derived);
- `publisher`: claim, send behind the fence, record the outcome, the relay;
- `actions`: what a person may do with a post (`post_allowed_actions`), from the checks above.

The publisher knows only the gate (GateClosure), never what a crisis is.
"""

from .accounts import TARGET_KEYS, social_account_create, social_account_update
from .actions import post_allowed_actions
from .calendar import (
    local_time,
    post_cancel,
    post_check_cancel,
    post_check_update,
    post_create,
    post_set_hold,
    post_update,
)
from .gate import gate_close, gate_open
from .publisher import (
    MAX_ATTEMPTS,
    STALE_CLAIM,
    NetworkError,
    SendOutcome,
    post_check_mark_published,
    post_check_retract,
    post_hand_to_person,
    post_mark_published,
    post_retract,
    post_send,
    posts_claim_due,
    posts_reclaim_stale,
    retry_delay,
)

__all__ = [
    "MAX_ATTEMPTS",
    "STALE_CLAIM",
    "TARGET_KEYS",
    "NetworkError",
    "SendOutcome",
    "gate_close",
    "gate_open",
    "local_time",
    "post_allowed_actions",
    "post_cancel",
    "post_check_cancel",
    "post_check_mark_published",
    "post_check_retract",
    "post_check_update",
    "post_create",
    "post_hand_to_person",
    "post_mark_published",
    "post_retract",
    "post_send",
    "post_set_hold",
    "post_update",
    "posts_claim_due",
    "posts_reclaim_stale",
    "retry_delay",
    "social_account_create",
    "social_account_update",
]
