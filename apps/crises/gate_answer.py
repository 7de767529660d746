"""What `GET /api/v1/gate/` answers: `{"open": …, "crisis": {id, title, declared_at,
freeze_until} | null}` as JSON bytes, from the mirror when it has them (apps.posts.gate_mirror),
else from the database (one indexed query), then mirrored.

Times are written as DRF writes them (ISO 8601 in the site's time zone, `Z` for UTC), and the
bytes as DRF's JSON renderer writes them, so the answer does not depend on who asked.
"""

import json

from django.utils import timezone

from apps.posts.gate_mirror import (
    mirror_clear,
    mirror_forget,
    mirror_read,
    mirror_store,
    mirror_store_closed,
)
from apps.posts.selectors import gate_read


def _when(value) -> str:
    text = timezone.localtime(value, timezone.get_default_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def gate_answer_body(*, crisis, open_: bool) -> dict:
    body = {"open": open_, "crisis": None}
    if crisis is not None:
        body["crisis"] = {
            "id": crisis.pk,
            "title": crisis.title,
            "declared_at": _when(crisis.declared_at),
            "freeze_until": _when(crisis.freeze_until),
        }
    return body


def _encode(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


_OPEN = _encode(gate_answer_body(crisis=None, open_=True))


def gate_answer() -> bytes:
    """The answer for a poll: the mirror's, or the database's (then stored in the mirror unless
    the gate changed meanwhile)."""
    answer, seen_generation = mirror_read()
    if answer is not None:
        return answer
    closure = gate_read()  # one indexed query, the crisis joined
    if closure is None:
        answer = _OPEN
    else:
        answer = _encode(gate_answer_body(crisis=getattr(closure, "crisis", None), open_=False))
    mirror_store(answer=answer, seen_generation=seen_generation)
    return answer


def gate_answer_declared(*, crisis) -> None:
    """Called by the declaration just before it commits: from then on polls answer closed."""
    mirror_store_closed(answer=_encode(gate_answer_body(crisis=crisis, open_=False)))


def gate_answer_abandoned() -> None:
    """A declaration failed (rolled back, perhaps at its commit after storing its closed answer):
    drop the answer now, so that polls read the open gate from the database."""
    mirror_clear()


def gate_answer_changed() -> None:
    """The crisis's answer changes in this transaction (an extension): polls read it afresh."""
    mirror_forget()
