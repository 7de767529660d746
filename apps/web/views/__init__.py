from .approvals import approval_decide, approval_release, approvals, post_require_approval
from .audit import audit_trail
from .calendar import calendar_post_edit, calendar_post_new, calendar_week
from .control import (
    control_approve_lift,
    control_decisions,
    control_declare,
    control_extend,
    control_figures,
    control_lift,
    control_report,
    control_retract,
    control_room,
    control_stand_down,
)
from .general import home, inbox, inbox_acknowledge, todo_mark_published
from .mandates import mandate_revoke, mandates
from .statements import (
    statement_decide,
    statement_detail,
    statement_list,
    statement_new,
    statement_publish,
    statement_revise,
    statement_submit,
    statement_withdraw,
)

__all__ = [
    "approval_decide",
    "approval_release",
    "approvals",
    "audit_trail",
    "calendar_post_edit",
    "calendar_post_new",
    "calendar_week",
    "control_approve_lift",
    "control_decisions",
    "control_declare",
    "control_extend",
    "control_figures",
    "control_lift",
    "control_report",
    "control_retract",
    "control_room",
    "control_stand_down",
    "home",
    "inbox",
    "inbox_acknowledge",
    "mandate_revoke",
    "mandates",
    "post_require_approval",
    "statement_decide",
    "statement_detail",
    "statement_list",
    "statement_new",
    "statement_publish",
    "statement_revise",
    "statement_submit",
    "statement_withdraw",
    "todo_mark_published",
]
