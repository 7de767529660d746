"""Notification services: the entry points other apps call. (Contract stubs, filled in by the
notifications work, issue 4; signatures are fixed.)"""


def notify_event(*, event: str, crisis_id: int, context: dict, actor=None):
    """Crisis events ("crisis.declared", "crisis.extended", "crisis.lifted", "crisis.stood_down"):
    record one notice per active staff member and channel in the caller's transaction, sent after
    commit. Called by the crises services inside their transaction."""
    return None


def notify_users(*, event: str, user_ids: list[int], context: dict, crisis_id: int | None = None, actor=None):
    """Targeted notices (e.g. "statement.submitted" to reviewers, "statement.decided" to the
    author), same guarantees as notify_event. Called inside the caller's transaction."""
    return None
