"""Every change to the watch, one module per concept, re-exported here so that callers keep
`from apps.watch import services`:

- registry: accounts registered, proposed, decided, changed (and what a person may do to one)
- imports: the CSV import of the registry, all or nothing
- owners: the owners' notice at a declaration
- sweep: reading every account and recording what was read
- sightings: judging and recording what was seen, the DCO's review (and what a person may do)

Each change is one transaction with its audit entry.
"""

from .imports import (
    FALSE_WORDS,
    IMPORT_COLUMNS,
    REQUIRED_COLUMNS,
    TRUE_WORDS,
    AccountRow,
    WatchImportError,
    watched_accounts_import,
)
from .owners import OWNERS_TOLD_AFTER, on_notice_event_saved, owners_tell
from .registry import (
    ACCOUNT_FIELDS,
    watch_page_actions,
    watch_role_actions,
    watched_account_allowed_actions,
    watched_account_create,
    watched_account_decide,
    watched_account_propose,
    watched_account_update,
)
from .sightings import official_refs, sighting_allowed_actions, sighting_review
from .sweep import (
    QUIET_BATCH,
    SWEEP_LOCK_KEY,
    _state,  # noqa: F401 - bench/watch.py reads accounts as the sweep does
    watch_sweep,
)

__all__ = [
    "ACCOUNT_FIELDS",
    "FALSE_WORDS",
    "IMPORT_COLUMNS",
    "OWNERS_TOLD_AFTER",
    "QUIET_BATCH",
    "REQUIRED_COLUMNS",
    "SWEEP_LOCK_KEY",
    "TRUE_WORDS",
    "AccountRow",
    "WatchImportError",
    "official_refs",
    "on_notice_event_saved",
    "owners_tell",
    "sighting_allowed_actions",
    "sighting_review",
    "watch_page_actions",
    "watch_role_actions",
    "watch_sweep",
    "watched_account_allowed_actions",
    "watched_account_create",
    "watched_account_decide",
    "watched_account_propose",
    "watched_account_update",
    "watched_accounts_import",
]
