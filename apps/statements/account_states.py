"""Each account's state once a statement is being published (one reading for the API, the
pages and the report)."""

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts.roles import DCO, has_role
from apps.posts.models import PostStatus
from apps.posts.selectors import gate_closure_current
from apps.posts.selectors import post_state as posts_post_state

# --------------------------------------------------------------------------------------------
# Each account's state once a statement is being published: what went out, what waits for a
# person, what fails. One reading for the API, the pages and the report.


_UNSET = object()


class AccountState:
    NOT_STARTED = "not_started"  # the statement is not being published yet
    SCHEDULED = "scheduled"  # its post waits for its time
    SENDING = "sending"  # claimed by the publisher, on its way
    SENT = "sent"  # out (by the network API or marked published by hand)
    BY_HAND = "by_hand"  # a to-do: a named person publishes it by hand, then says so
    FAILING = "failing"  # the network refused or could not be reached
    CANCELLED = "cancelled"
    HELD = "held"  # anything else the posts app says (frozen, uncertain…): shown by its name


STATE_LABELS = {
    AccountState.NOT_STARTED: gettext_lazy("not published yet"),
    AccountState.SCHEDULED: gettext_lazy("scheduled"),
    AccountState.SENDING: gettext_lazy("sending"),
    AccountState.SENT: gettext_lazy("sent"),
    AccountState.BY_HAND: gettext_lazy("to do by hand"),
    AccountState.FAILING: gettext_lazy("failing"),
    AccountState.CANCELLED: gettext_lazy("cancelled"),
}


def plain_error(raw: str) -> str:
    """The connector's error in words a DCO reads at 2 a.m. (never the reply body, which may
    hold what the network echoes back; the raw text is shown to the DCO only)."""
    text = raw or ""
    lowered = text.lower()
    match = re.search(r"HTTP (\d{3})", text)
    if match:
        code = int(match.group(1))
        if code in (401, 403):
            message = _("The network refused the account's credentials: check its access token.")
        elif code == 404:
            message = _("The network does not know this address: check the account's settings.")
        elif code in (400, 413, 422):
            message = _("The network refused the text.")
        elif code == 429:
            message = _("The network asks us to slow down.")
        elif code >= 500:
            message = _("The network's server failed.")
        else:
            message = _("The network answered with an error.")
        return f"{message} (HTTP {code})"
    if "nameresolution" in lowered or "name or service not known" in lowered or "getaddrinfo" in lowered:
        return _("The network's address could not be found (DNS).")
    if "timeout" in lowered or "timed out" in lowered:
        return _("The network did not answer in time.")
    if "connection" in lowered or "max retries" in lowered:
        return _("The network's server could not be reached.")
    if "assignee" in lowered:
        return _("The person who publishes this account by hand is no longer active.")
    if "unexpected answer" in lowered:
        return _("The network's answer could not be understood.")
    if not text:
        return _("Sending failed.")
    return _("Sending failed; the DCO sees the details.")


def _person(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _safe_url(url: str) -> str:
    # Only http(s) ever becomes a link (a connector reply could say javascript:…).
    return url if (url or "").lower().startswith(("http://", "https://")) else ""


def post_state(*, post, user=None, closure=_UNSET) -> dict:
    """One statement post as its account's state, with what `user` may do about it. `closure`:
    the gate closure in force (read once by the caller for many posts)."""
    is_dco = user is not None and has_role(user, DCO)
    # The status a person sees (`frozen` is derived by the posts app: a later crisis holds back
    # a post exempt only for an earlier one).
    status = posts_post_state(post=post, closure=closure)
    retrying = False
    if status == PostStatus.PUBLISHED:
        state = AccountState.SENT
    elif status == PostStatus.PUBLISHING and post.assignee_id:
        state = AccountState.BY_HAND
    elif status == PostStatus.PUBLISHING and post.last_error:
        state, retrying = AccountState.FAILING, True
    elif status == PostStatus.PUBLISHING:
        state = AccountState.SENDING
    elif status == PostStatus.FAILED:
        state = AccountState.FAILING
    elif status == PostStatus.SCHEDULED:
        state = AccountState.SCHEDULED
    elif status == PostStatus.CANCELLED:
        state = AccountState.CANCELLED
    else:
        state = AccountState.HELD
    failing = state == AccountState.FAILING
    return {
        "account_id": post.account_id,
        "account": str(post.account),
        "network": post.account.network,
        "post": post.pk,
        "state": state,
        "label": str(STATE_LABELS.get(state) or PostStatus(status).label),
        "post_status": status,
        "scheduled_at": post.scheduled_at,
        "published_at": post.published_at,
        "url": _safe_url(post.external_url) if state == AccountState.SENT else "",
        "assignee": _person(post.assignee) if state == AccountState.BY_HAND else "",
        "assignee_id": post.assignee_id if state == AccountState.BY_HAND else None,
        "error": plain_error(post.last_error) if failing else "",
        # The raw reply may echo back what the network received: DCO only.
        "error_detail": post.last_error if failing and is_dco else "",
        "attempts": post.attempts,
        "retrying": retrying,
        "can_mark_published": state == AccountState.BY_HAND
        and user is not None
        and (is_dco or post.assignee_id == user.pk),
        # A post still retrying by itself is left to the publisher; a failed one is the DCO's.
        "can_retry": failing and not retrying and is_dco,
        "can_publish_by_hand": failing and is_dco,
    }


def statement_account_states(*, statement, user=None, closure=_UNSET) -> list[dict]:
    """Each chosen account's state, in account order. Uses prefetched post_links when present
    (see _statement_base), so a list of statements costs no query per row."""
    links = sorted(statement.post_links.all(), key=lambda link: link.pk)
    posts = {link.post.account_id: link.post for link in links}  # the latest post per account
    if posts and closure is _UNSET:
        closure = gate_closure_current()
    out = []
    for account in sorted(statement.accounts.all(), key=lambda a: a.pk):
        post = posts.pop(account.pk, None)
        if post is None:
            out.append(
                {
                    "account_id": account.pk,
                    "account": str(account),
                    "network": account.network,
                    "post": None,
                    "state": AccountState.NOT_STARTED,
                    "label": str(STATE_LABELS[AccountState.NOT_STARTED]),
                }
            )
        else:
            out.append(post_state(post=post, user=user, closure=closure))
    # Posts on an account no longer chosen (edited after publishing is refused, but be truthful).
    out += [post_state(post=p, user=user, closure=closure) for p in posts.values()]
    return out


def statements_with_states(*, statements, user) -> list:
    """Attach `account_states` to each statement (for templates: web/_statement_rows.html)."""
    rows = list(statements)
    closure = gate_closure_current()
    for s in rows:
        s.account_states = (
            statement_account_states(statement=s, user=user, closure=closure) if s.post_links.all() else []
        )
    return rows
