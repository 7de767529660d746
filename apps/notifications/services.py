"""Notification services. `notify_event` is the entry point the crises app calls inside its
own transaction when a crisis is declared, extended, lifted or stood down."""


def notify_event(*, event: str, crisis_id: int, context: dict, actor=None):
    """Record the notices for every staff member on every channel (same transaction as the
    event), to be sent after commit. Filled in by the notifications work (issue 4)."""
    return None
