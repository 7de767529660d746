"""The audit chain is keyed: each hash is an HMAC with CRISISCOMM_AUDIT_KEY, which is in the
environment, not in the database. A database login that switches the trigger off, rewrites an
entry AND recomputes every hash after it still gets `valid: false` at that entry."""

import hashlib
import json

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from apps.audit.models import AuditChainHead, AuditEntry
from apps.audit.selectors import audit_chain_verify
from apps.audit.services import audit_key_id, audit_record, canonical_json

KEY = "k" * 48


@pytest.fixture(autouse=True)
def _audit_key(settings):
    settings.CRISISCOMM_AUDIT_KEY = KEY
    settings.CRISISCOMM_AUDIT_OLD_KEYS = []


def _append(actor, n):
    for i in range(n):
        with transaction.atomic():
            audit_record(actor=actor, action="test.event", object_type="thing", object_id=i, details={"i": i})


def _forged_hash(row, prev_hash, key=None):
    """What an attacker without the key can compute: the unkeyed digest (or an HMAC with a key
    they guessed) over the same canonical payload."""
    payload = canonical_json(
        value={
            "prev": prev_hash,
            "seq": row["sequence"],
            "at": row["created_at"].isoformat(),
            "actor": row["actor_id"],
            "actor_repr": row["actor_repr"],
            "action": row["action"],
            "type": row["object_type"],
            "id": row["object_id"],
            "details": row["details"],
        }
    ).encode()
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    import hmac

    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _rewrite_from(sequence, new_details, key=None):
    """As the table owner: trigger off, entry `sequence` rewritten, every hash after it and the
    chain head recomputed, trigger on."""
    rows = list(
        AuditEntry.objects.order_by("sequence").values(
            "sequence",
            "created_at",
            "actor_id",
            "actor_repr",
            "action",
            "object_type",
            "object_id",
            "details",
            "hash",
        )
    )
    with connection.cursor() as c:
        c.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_no_update_delete")
        c.execute("ALTER TABLE audit_auditchainhead DISABLE TRIGGER audit_chain_head_guard")
        prev = rows[sequence - 2]["hash"] if sequence > 1 else "0" * 64
        for row in rows[sequence - 1 :]:
            if row["sequence"] == sequence:
                row["details"] = new_details
            digest = _forged_hash(row, prev, key)
            c.execute(
                "UPDATE audit_auditentry SET details = %s, prev_hash = %s, hash = %s WHERE sequence = %s",
                [json.dumps(row["details"]), prev, digest, row["sequence"]],
            )
            prev = digest
        c.execute("UPDATE audit_auditchainhead SET hash = %s WHERE id = 1", [prev])
        c.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_no_update_delete")
        c.execute("ALTER TABLE audit_auditchainhead ENABLE TRIGGER audit_chain_head_guard")


@pytest.mark.django_db
@pytest.mark.parametrize("forger_key", [None, b"a-guessed-key"], ids=["unkeyed", "wrong-key"])
def test_rewriting_an_entry_and_every_hash_after_it_is_caught(dco, capsys, forger_key):
    """Mutation: entry_hash back to an unkeyed sha256 of the payload -> the attacker's
    recomputed chain verifies -> `valid: true` -> this test fails (the `unkeyed` case)."""
    _append(dco, 6)
    assert audit_chain_verify().valid
    _rewrite_from(4, {"i": 99, "note": "forged"}, key=forger_key)
    assert AuditEntry.objects.get(sequence=4).details == {"i": 99, "note": "forged"}
    assert audit_chain_verify().as_dict() == {"valid": False, "entries": 4, "first_broken": 4}
    with pytest.raises(SystemExit):
        call_command("verify_audit")
    assert '"first_broken": 4' in capsys.readouterr().out


@pytest.mark.django_db
def test_the_key_is_not_in_the_database(dco):
    _append(dco, 2)
    entry = AuditEntry.objects.first()
    assert entry.key_id == audit_key_id(key=KEY.encode()) and KEY not in entry.key_id
    with connection.cursor() as c:
        c.execute("SELECT * FROM audit_auditentry")
        dump = str(c.fetchall())
        c.execute("SELECT * FROM audit_auditchainhead")
        dump += str(c.fetchall())
    assert KEY not in dump


@pytest.mark.django_db
def test_rotation_old_entries_verify_with_a_retired_key(dco, settings):
    _append(dco, 3)
    settings.CRISISCOMM_AUDIT_KEY = "n" * 48
    settings.CRISISCOMM_AUDIT_OLD_KEYS = [KEY]
    _append(dco, 2)
    assert audit_chain_verify().as_dict() == {"valid": True, "entries": 5, "first_broken": None}
    assert AuditEntry.objects.values("key_id").distinct().count() == 2
    # Drop the retired key too early: its entries no longer verify, from the first one.
    settings.CRISISCOMM_AUDIT_OLD_KEYS = []
    assert audit_chain_verify().as_dict() == {"valid": False, "entries": 1, "first_broken": 1}


@pytest.mark.django_db
def test_a_new_chain_head_cannot_be_wound_back(dco):
    _append(dco, 3)
    head = AuditChainHead.objects.get()
    with pytest.raises(Exception, match="only moves forward"), transaction.atomic(), connection.cursor() as c:
        c.execute("UPDATE audit_auditchainhead SET sequence = 1, hash = %s WHERE id = 1", [head.hash])
