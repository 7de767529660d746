from .calendar import calendar_post_edit, calendar_post_new, calendar_week
from .control import (
    control_approve_lift,
    control_decisions,
    control_declare,
    control_extend,
    control_figures,
    control_lift,
    control_report,
    control_room,
    control_stand_down,
)
from .general import home, inbox, inbox_acknowledge
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
    "control_room",
    "control_stand_down",
    "home",
    "inbox",
    "inbox_acknowledge",
    "statement_decide",
    "statement_detail",
    "statement_list",
    "statement_new",
    "statement_publish",
    "statement_revise",
    "statement_submit",
    "statement_withdraw",
]
