"""The gate's answer mirrored in Redis, so that a poll of `GET /api/v1/gate/` costs no database
trip (issue 13: external schedulers poll it hundreds of times a second).

The database stays the truth; the mirror may be MORE closed than it, never more open:
- a declaration stores its closed answer BEFORE it commits (`mirror_store_closed`, overwriting,
  kept `CLOSED_SECONDS`), so no poll after the commit can find an open one;
- every other change of the gate or of its answer (the gate closing or opening, an extension)
  bumps the generation and deletes the answer before it commits, and again after the commit
  (`mirror_forget`);
- a poll that finds no answer reads the database and stores what it read only if the generation
  is still the one it saw before reading, and only if no answer is there (one Lua script,
  atomic in Redis): a read taken before a change can never be stored after it;
- a stored answer lives `settings.CRISISCOMM_GATE_MIRROR_SECONDS` (1 s by default): if the
  declaring process could not reach Redis while pollers could, a stale open answer outlives the
  declaration's commit by at most that;
- each process reuses an answer Redis confirmed for `settings.CRISISCOMM_GATE_LOCAL_SECONDS`
  (50 ms) counted from before it asked, so most polls cost no round trip at all; a declaration
  waits that long after storing its closed answer and before it commits, so no process still
  reuses an open answer once the declaration has committed.

Redis unreachable or slow (socket timeouts of a quarter second): every poll reads the database,
every writer carries on. No REDIS_URL (the embedded `make run`): no mirror.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import connection, transaction

log = logging.getLogger(__name__)

# Kept while the declaration that wrote it commits: readers must not fall back to the database
# (which would still say open) before it has. A declaration that fails drops it (crisis_declare);
# one whose process dies between writing it and committing leaves the gate reading closed this
# long at most (closed is the safe side).
CLOSED_SECONDS = 30
TIMEOUT_SECONDS = 0.25

_STORE_IF_UNCHANGED = """
local gen = redis.call('GET', KEYS[2]) or ''
if gen ~= ARGV[1] then return 0 end
if redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3], 'NX') then return 1 end
return 0
"""

_client_lock = threading.Lock()
# (answer, monotonic deadline): this process's copy of an answer Redis confirmed.
_local = (None, 0.0)
_client = None
_store_script = None


def _redis():
    """The process's client (redis-py's pool re-creates its sockets after a fork), or None."""
    global _client, _store_script
    url = getattr(settings, "REDIS_URL", "")
    if not url or not settings.CRISISCOMM_GATE_MIRROR_SECONDS:
        return None
    with _client_lock:
        if _client is None or _client_url() != url:
            import redis

            _client = redis.Redis.from_url(
                url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
            )
            _client._crisiscomm_url = url
            _store_script = _client.register_script(_STORE_IF_UNCHANGED)
    return _client


def _client_url():
    return getattr(_client, "_crisiscomm_url", None)


def _keys() -> tuple[str, str]:
    # One mirror per database: test databases, helpers' databases and benches never share one.
    name = connection.settings_dict["NAME"]
    return f"crisiscomm:{name}:gate:answer", f"crisiscomm:{name}:gate:generation"


def _remember(answer: bytes, asked_at: float) -> None:
    global _local
    _local = (answer, asked_at + settings.CRISISCOMM_GATE_LOCAL_SECONDS)


def _forget_local() -> None:
    global _local
    _local = (None, 0.0)


def mirror_read() -> tuple[bytes | None, bytes]:
    """(the stored answer or None, the generation seen) in one round trip, or this process's
    recent copy with no trip. Redis unreachable: (None, None), and the caller reads the database
    and stores nothing."""
    answer, deadline = _local
    asked_at = time.monotonic()
    if answer is not None and asked_at < deadline:
        return answer, None
    client = _redis()
    if client is None:
        return None, None
    try:
        answer, generation = client.mget(_keys())
    except Exception as exc:  # any Redis failure: the database answers
        log.warning("gate mirror unreadable: %s", exc)
        return None, None
    if answer is not None:
        _remember(answer, asked_at)
    return answer, generation or b""


def mirror_store(*, answer: bytes, seen_generation) -> bool:
    """Store `answer`, read from the database after `mirror_read` gave `seen_generation`, unless
    the gate changed since (the generation moved) or an answer is already there."""
    if seen_generation is None or _redis() is None:
        return False
    asked_at = time.monotonic()
    try:
        stored = _store_script(
            keys=list(_keys()),
            args=[seen_generation, answer, int(settings.CRISISCOMM_GATE_MIRROR_SECONDS * 1000)],
        )
    except Exception as exc:
        log.warning("gate mirror not stored: %s", exc)
        return False
    if stored:  # nothing changed the gate before Redis ran the script: safe to reuse
        _remember(answer, asked_at)
    return bool(stored)


def _change(answer: bytes | None) -> bool:
    """Bump the generation and replace the answer (None: drop it), atomically; this process's
    copy goes too. False when Redis could not be reached (the polls then read the database)."""
    _forget_local()
    client = _redis()
    if client is None:
        return False
    answer_key, generation_key = _keys()
    pipeline = client.pipeline(transaction=True).incr(generation_key)
    if answer is None:
        pipeline.delete(answer_key)
    else:
        pipeline.set(answer_key, answer, ex=CLOSED_SECONDS)
    try:
        pipeline.execute()
    except Exception as exc:
        log.warning("gate mirror not changed: %s", exc)
        return False
    return True


def _forget_now() -> None:
    _change(None)


def mirror_forget() -> None:
    """The gate or its answer is changing in the current transaction: bump the generation and
    drop the answer now (polls read the database until the commit) and again once committed."""
    _forget_now()
    transaction.on_commit(_forget_now)


def mirror_store_closed(*, answer: bytes) -> None:
    """A declaration's closed answer, stored before the declaration commits; then waits out the
    other processes' copies of the open answer (see the module)."""
    if _redis() is not None:
        _change(answer)
        time.sleep(settings.CRISISCOMM_GATE_LOCAL_SECONDS)


def mirror_clear() -> None:
    """Drop the answer in this process and in Redis now, bumping the generation (a new test, a
    repair by hand): the next poll reads the database."""
    _forget_now()
