"""Migration audit 0004 reseals an existing unkeyed chain with the key, and refuses to reseal a
chain that was already broken (that must be investigated, not papered over)."""

import hashlib
import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from apps.audit.selectors import audit_chain_verify

BEFORE = [("audit", "0003_chain_head_guard")]


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _write_unkeyed_chain(n, *, break_at=None):
    """Entries as the service wrote them before 0004: sha256 over the canonical payload."""
    prev, now = "0" * 64, timezone.now().replace(microsecond=0)
    with connection.cursor() as c:
        for seq in range(1, n + 1):
            details = {"i": seq}
            payload = _canonical(
                {
                    "prev": prev,
                    "seq": seq,
                    "at": now.isoformat(),
                    "actor": None,
                    "actor_repr": "system",
                    "action": "test.old",
                    "type": "thing",
                    "id": str(seq),
                    "details": details,
                }
            )
            digest = hashlib.sha256(payload.encode()).hexdigest()
            if seq == break_at:
                details = {"i": -1}  # edited after the fact
            c.execute(
                "INSERT INTO audit_auditentry (sequence, created_at, actor_id, actor_repr, action,"
                " object_type, object_id, details, prev_hash, hash)"
                " VALUES (%s, %s, NULL, 'system', 'test.old', 'thing', %s, %s, %s, %s)",
                [seq, now, str(seq), json.dumps(details), prev, digest],
            )
            prev = digest
        c.execute("UPDATE audit_auditchainhead SET sequence = %s, hash = %s WHERE id = 1", [n, prev])


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.fixture
def at_0003(transactional_db):
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    latest = [("audit", max(name for app, name in leaves if app == "audit"))]
    _migrate(BEFORE)
    with connection.cursor() as c:
        c.execute(
            "INSERT INTO audit_auditchainhead (id, sequence, hash) VALUES (1, 0, %s) ON CONFLICT DO NOTHING",
            ["0" * 64],
        )
    yield
    with connection.cursor() as c:
        c.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER USER")
        c.execute("DELETE FROM audit_auditentry")
        c.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER USER")
    _migrate(latest)


def test_an_unkeyed_chain_is_checked_then_resealed_with_the_key(at_0003, settings):
    settings.CRISISCOMM_AUDIT_KEY = "m" * 48
    _write_unkeyed_chain(5)
    _migrate([("audit", "0004_keyed_chain")])
    assert audit_chain_verify().as_dict() == {"valid": True, "entries": 5, "first_broken": None}


def test_a_chain_broken_before_keying_stops_the_migration(at_0003, settings):
    settings.CRISISCOMM_AUDIT_KEY = "m" * 48
    _write_unkeyed_chain(5, break_at=3)
    with pytest.raises(RuntimeError, match="broken at entry #3 before keying"):
        _migrate([("audit", "0004_keyed_chain")])
