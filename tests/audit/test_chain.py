import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from apps.audit.models import AppendOnlyError, AuditEntry
from apps.audit.selectors import audit_chain_verify
from apps.audit.services import audit_record


def _append(actor, n, action="test.event"):
    for i in range(n):
        with transaction.atomic():
            audit_record(
                actor=actor, action=action, object_type="thing", object_id=i, details={"i": i, "note": "é"}
            )


@pytest.mark.django_db
def test_chain_verifies_and_counts_entries(dco):
    _append(dco, 5)
    assert audit_chain_verify().as_dict() == {"valid": True, "entries": 5, "first_broken": None}


@pytest.mark.django_db
def test_orm_refuses_update_and_delete(dco):
    _append(dco, 1)
    entry = AuditEntry.objects.get()
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_record_outside_transaction_is_refused(dco):
    with pytest.raises(RuntimeError):
        audit_record(actor=dco, action="test.event")


@pytest.mark.django_db
def test_trigger_refuses_raw_sql_update_and_delete(dco):
    _append(dco, 1)
    for sql in ("UPDATE audit_auditentry SET action = 'forged'", "DELETE FROM audit_auditentry"):
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(sql)
    assert AuditEntry.objects.get().action == "test.event"


def _tamper(sql, params):
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            # An attacker with table-owner rights can switch the trigger off; the chain still tells.
            c.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_no_update_delete")
        c.execute(sql, params)
        if connection.vendor == "postgresql":
            c.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_no_update_delete")


@pytest.mark.django_db
def test_raw_sql_edit_is_named_by_verify_audit(dco, capsys):
    _append(dco, 6)
    _tamper("UPDATE audit_auditentry SET details = %s WHERE sequence = %s", ['{"i": 99}', 4])
    report = audit_chain_verify()
    assert report.as_dict() == {"valid": False, "entries": 4, "first_broken": 4}
    with pytest.raises(SystemExit) as exc:
        call_command("verify_audit")
    assert exc.value.code == 1
    assert '"first_broken": 4' in capsys.readouterr().out


@pytest.mark.django_db
def test_deleted_entry_shows_as_a_gap(dco):
    _append(dco, 5)
    _tamper("DELETE FROM audit_auditentry WHERE sequence = %s", [3])
    assert audit_chain_verify().first_broken == 3


@pytest.mark.django_db
def test_verify_endpoint_for_auditor_only(api, auditor, employee, dco):
    _append(dco, 3)
    assert api.get("/api/v1/audit/verify/").status_code == 401
    assert api.as_user(employee).get("/api/v1/audit/verify/").status_code == 403
    resp = api.as_user(auditor).get("/api/v1/audit/verify/")
    assert resp.status_code == 200
    assert resp.json() == {"valid": True, "entries": 3, "first_broken": None}
    listing = api.as_user(auditor).get("/api/v1/audit/?action=test.event")
    assert listing.json()["count"] == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_unbroken_chain(dco):
    """Eight threads, each with its own PostgreSQL connection, append 25 entries at once."""
    threads_n, per_thread = 8, 25
    barrier = threading.Barrier(threads_n)
    errors = []

    def worker():
        try:
            barrier.wait()
            _append(dco, per_thread, action="test.concurrent")
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = audit_chain_verify()
    assert report.as_dict() == {"valid": True, "entries": threads_n * per_thread, "first_broken": None}
    sequences = list(AuditEntry.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, threads_n * per_thread + 1))


# Every column the hash must cover, spelled here independently of services.HASHED_FIELDS.
_SEALED_COLUMNS = {
    "created_at": "created_at + interval '1 second'",
    "actor_id": "NULL",
    "actor_repr": "'someone-else'",
    "action": "'gate.open'",
    "object_type": "'forged'",
    "object_id": "'999'",
    "details": "'{\"i\": 99}'::jsonb",
    "prev_hash": "repeat('1', 64)",
    "sequence": "sequence + 1000",
}


@pytest.mark.django_db
@pytest.mark.parametrize("column", sorted(_SEALED_COLUMNS))
def test_every_hashed_column_is_sealed(dco, column):
    """Editing any one of the nine sealed columns breaks the chain at that entry.

    Mutation: ("type", "object_type") dropped from services.HASHED_FIELDS -> an edited
    object_type still verifies -> this test fails (the object_type case)."""
    _append(dco, 3)
    _tamper(f"UPDATE audit_auditentry SET {column} = {_SEALED_COLUMNS[column]} WHERE sequence = %s", [2])
    assert audit_chain_verify().first_broken == 2
