"""What a person may do with a crisis, asked by the control room, the API and the tests
(Wagtail's `get_actions(obj, user)`). Each answer runs the very check the service runs, so a
page never offers what the service refuses. The names are the audit trail's verbs."""

from django.utils import timezone

from apps.core.errors import ServiceError

from .common import crisis_check_change
from .declaration import crisis_check_declare
from .ending import crisis_check_approve_end, crisis_check_request_end
from .models import EndKind
from .selectors import crisis_end_blockers

REQUEST_ACTIONS = {EndKind.LIFT: "crisis.lift_request", EndKind.STAND_DOWN: "crisis.stand_down_request"}
# The approval of a pending end is recorded as the end itself.
APPROVE_ACTIONS = {EndKind.LIFT: "crisis.lift", EndKind.STAND_DOWN: "crisis.stand_down"}


def _passes(check, **kwargs) -> bool:
    try:
        check(**kwargs)
    except ServiceError:
        return False
    return True


def crisis_allowed_actions(*, user, crisis=None, now=None) -> frozenset[str]:
    """With no crisis: {"crisis.declare"} when the user may declare one now. With a crisis:
    `crisis.extend`, `crisis.decide`, `crisis.lift_request`, `crisis.stand_down_request` (each
    only when nothing blocks it: crisis_end_blockers), and `crisis.lift` or `crisis.stand_down`:
    approving the pending end (never by its requester: four eyes)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if crisis is None:
        return frozenset({"crisis.declare"}) if _passes(crisis_check_declare, actor=user) else frozenset()
    now = now or timezone.now()
    out = set()
    if _passes(crisis_check_change, actor=user, crisis=crisis):
        out |= {"crisis.extend", "crisis.decide"}
    if _passes(crisis_check_request_end, actor=user, crisis=crisis):
        for kind, action in (
            (EndKind.LIFT, "crisis.lift_request"),
            (EndKind.STAND_DOWN, "crisis.stand_down_request"),
        ):
            if not crisis_end_blockers(crisis=crisis, kind=kind, now=now):
                out.add(action)
    if _passes(crisis_check_approve_end, actor=user, crisis=crisis, now=now):
        out.add(APPROVE_ACTIONS[crisis.end_kind])
    return frozenset(out)
