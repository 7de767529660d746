"""What a person may do with a post, asked by the pages, the API and the tests. Each answer
runs the very check the service runs; the names are the audit trail's verbs."""

from apps.core.errors import ServiceError
from apps.core.roles import DCO, has_role

from .calendar import post_check_cancel, post_check_update
from .publisher import post_check_mark_published, post_check_retract
from .selectors import _UNSET


def post_allowed_actions(*, user, post=None, closure=_UNSET) -> frozenset[str]:
    """What a person may do with a post (`post.create` when no post is given; `post.update`,
    `post.cancel`, `post.retract`, `post.publish`: say a post handed to a person is out), from
    the services' own checks: the pages ask this, never a copy of the rule. `closure`: the gate's
    current closure when the caller read it (a calendar page asks for many posts with one read of
    the gate)."""
    if post is None:
        return frozenset({"post.create"}) if has_role(user, DCO) else frozenset()
    out = set()
    gate = {} if closure is _UNSET else {"closure": closure}
    checks = (
        ("post.update", post_check_update, {}),
        ("post.cancel", post_check_cancel, gate),
        ("post.retract", post_check_retract, {}),
        ("post.publish", post_check_mark_published, gate),
    )
    for action, check, extra in checks:
        try:
            check(actor=user, post=post, **extra)
        except ServiceError:
            continue
        out.add(action)
    return frozenset(out)
