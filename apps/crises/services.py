"""Crisis life, one module per stage, re-exported here for callers:

- `declaration`: declare (close the gate: the freeze is logical, no post is written), extend;
- `review`: decide the fate of each frozen post;
- `ending`: request the lift or a stand-down, and a second dco approves it (four eyes);
- `actions`: what a person may do with a crisis now (`crisis_allowed_actions`), from the
  services' own checks.

Each is one transaction with its audit entry and its notification (notify_event records notices
in the same transaction)."""

from .actions import crisis_allowed_actions
from .common import MIN_FREEZE, crisis_check_change, notice_context
from .declaration import crisis_check_declare, crisis_declare, crisis_extend
from .ending import (
    crisis_approve_lift,
    crisis_check_approve_end,
    crisis_check_request_end,
    crisis_request_lift,
    crisis_request_stand_down,
)
from .review import crisis_decide_matching, crisis_decide_post, crisis_decide_posts

__all__ = [
    "MIN_FREEZE",
    "crisis_allowed_actions",
    "crisis_approve_lift",
    "crisis_check_approve_end",
    "crisis_check_change",
    "crisis_check_declare",
    "crisis_check_request_end",
    "crisis_decide_matching",
    "crisis_decide_post",
    "crisis_decide_posts",
    "crisis_declare",
    "crisis_extend",
    "crisis_request_lift",
    "crisis_request_stand_down",
    "notice_context",
]
