"""What other apps do when a post changes: registered once, called explicitly by posts.

Posts never imports the apps above it (the import contract), yet statements must act when a
post changes: a calendar post's approval is bound to its text, account and time, and a
statement follows its posts out. So statements registers functions here from its
`AppConfig.ready()`, and the posts code that makes the change calls them by name, on the call
stack, in the transaction that writes the change (no model signal: a save elsewhere does not
call them; the database triggers of statements' migrations 0004 and 0007 back the other doors).

    register_content_change("statements", fn)   # fn(*, posts)
    register_outcome("statements", fn)          # fn(*, post, outcome, actor)

Who calls what:
- `posts_content_changing(posts=)` — before body, account or scheduled_at is written, with the
  rows locked and the new values set on the instances: `calendar.post_update`,
  `calendar.post_set_hold` (a new time), and the crisis lift's moves
  (`crises.ending._apply_resume`). A listener that holds a post again sets `awaiting_approval`
  on the row and on the instance (a caller saving that field keeps it).
- `post_outcome_recorded(post=, outcome=, actor=)` — after an outcome is saved: the publisher
  (`published`, `assigned` to a person, `failed` for good), `post_mark_published` and
  `post_hand_to_person` (`assigned`, by a dco).
"""

from collections.abc import Callable, Sequence


class Outcome:
    """What became of a post, as listeners are told (the publisher's SendOutcome values)."""

    PUBLISHED = "published"
    ASSIGNED = "assigned"  # handed to a person, who publishes it by hand
    FAILED = "failed"  # refused for good: nothing will send it again by itself


_CONTENT: dict[str, Callable] = {}
_OUTCOME: dict[str, Callable] = {}


def register_content_change(name: str, fn: Callable) -> None:
    """fn(*, posts): called before posts' body, account or time change. Registering a name
    again replaces it (reloads, tests)."""
    _CONTENT[name] = fn


def register_outcome(name: str, fn: Callable) -> None:
    """fn(*, post, outcome, actor): called after a post's outcome is saved. Registering a name
    again replaces it."""
    _OUTCOME[name] = fn


def posts_content_changing(*, posts: Sequence) -> None:
    """Call before saving new body/account/scheduled_at set on `posts` (locked rows), inside the
    writing transaction."""
    if posts:
        for fn in list(_CONTENT.values()):
            fn(posts=posts)


def post_outcome_recorded(*, post, outcome: str, actor=None) -> None:
    """Call after saving a post's outcome (an `Outcome` value), inside the same transaction."""
    for fn in list(_OUTCOME.values()):
        fn(post=post, outcome=outcome, actor=actor)
