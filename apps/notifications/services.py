"""Notification services: one module per concept, re-exported here so that callers keep
`from apps.notifications import services`.

- outbox: the entry points other apps call (notify_event, notify_users) and the event rules
- fanout: the notice rows of an event, and of people arriving during a crisis
- delivery: the engine that claims, sends and records notices
- relay: the beat's relay and the reminder rounds
- acknowledgement: acknowledging (API, inbox, signed link) and sealing into the audit chain
- webhooks: the DCO's team webhooks
- broker: enqueueing the tasks by name (services never import tasks.py, which imports them)

Guarantees, and how:
- Nothing lost: `notify_event` / `notify_users` write one outbox row (NoticeEvent) in the
  caller's transaction; the fan-out is enqueued only after commit, and the relay re-enqueues
  whatever is still unmaterialised or queued, so a broker outage delays notices, never drops them.
- One notice per (event, person, channel): a unique constraint, and rows created by one
  INSERT … SELECT … ON CONFLICT DO NOTHING per channel, so a re-run materialisation adds nothing.
- Never a second copy: a worker claims rows (SELECT … FOR UPDATE SKIP LOCKED + a claim token),
  marks ONE row `sending` just before handing it over and `sent` right after (one statement per
  mail does both), so a retried task or another worker only ever takes rows nobody sent. The one
  row a killed worker leaves `sending` (it was waiting for the far end) is sent again after the
  lease, with the same Message-ID, so that even in the rare case it had gone out the receiver
  sees one message.
- Acknowledging covers the person's notices for the event on every channel and every reminder
  round; notices not yet sent to them are then not sent at all.
"""

from .acknowledgement import (
    acknowledged_at,
    acknowledgements_seal,
    notice_acknowledge,
    notice_acknowledge_link,
    notice_allowed_actions,
    read_ack_link,
)
from .delivery import (
    STOPPING,
    SUPERSEDED_CHECK_SECONDS,
    batch_size,
    claim_lease,
    notices_claim,
    notices_deliver,
    retry_delay,
    retry_window,
    sending_lease,
)
from .fanout import event_materialise, notices_for_arrivals, user_saved
from .outbox import (
    CLOSING_EVENTS,
    DCO_ONLY_EVENTS,
    OPEN_CRISIS_EVENTS,
    REMINDED_EVENTS,
    SUPERSEDED_BY_CLOSE,
    SUPERSEDING_EVENTS,
    notify_event,
    notify_users,
    open_crisis_events,
    superseding_event,
)
from .relay import notice_event_allowed_actions, notices_relay, reminders_send_now, reminders_start
from .webhooks import WEBHOOK_FIELDS, team_webhook_create, team_webhook_delete, team_webhook_update

__all__ = [
    "CLOSING_EVENTS",
    "DCO_ONLY_EVENTS",
    "OPEN_CRISIS_EVENTS",
    "REMINDED_EVENTS",
    "STOPPING",
    "SUPERSEDED_BY_CLOSE",
    "SUPERSEDED_CHECK_SECONDS",
    "SUPERSEDING_EVENTS",
    "WEBHOOK_FIELDS",
    "acknowledged_at",
    "acknowledgements_seal",
    "batch_size",
    "claim_lease",
    "event_materialise",
    "notice_acknowledge",
    "notice_acknowledge_link",
    "notice_allowed_actions",
    "notice_event_allowed_actions",
    "notices_claim",
    "notices_deliver",
    "notices_for_arrivals",
    "notices_relay",
    "notify_event",
    "notify_users",
    "open_crisis_events",
    "read_ack_link",
    "reminders_send_now",
    "reminders_start",
    "retry_delay",
    "retry_window",
    "sending_lease",
    "superseding_event",
    "team_webhook_create",
    "team_webhook_delete",
    "team_webhook_update",
    "user_saved",
]
