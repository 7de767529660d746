import threading

import pytest
from django.db import connections, transaction

from apps.audit.models import AuditEntry
from apps.audit.selectors import audit_chain_verify
from apps.audit.services import audit_record, audit_record_many


@pytest.mark.django_db
def test_many_entries_chain_with_single_ones(dco, django_assert_max_num_queries):
    with transaction.atomic():
        audit_record(actor=dco, action="test.one", object_type="thing", object_id=0)
    with transaction.atomic(), django_assert_max_num_queries(4):  # lock head, insert, save head
        rows = audit_record_many(
            actor=dco,
            entries=[{"action": "test.many", "object_type": "thing", "object_id": i} for i in range(50)],
        )
    with transaction.atomic():
        audit_record(actor=None, action="test.system")
    assert [r.sequence for r in rows] == list(range(2, 52))
    assert audit_chain_verify().as_dict() == {"valid": True, "entries": 52, "first_broken": None}
    last = AuditEntry.objects.last()
    assert last.actor_repr == "system" and last.actor_id is None
    assert AuditEntry.objects.get(sequence=2).object_id == "0"


@pytest.mark.django_db
def test_a_rolled_back_action_leaves_no_entry(dco):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit_record_many(actor=dco, entries=[{"action": "test.lost"}])
        raise ZeroDivisionError  # the action fails after writing its entries
    assert AuditEntry.objects.count() == 0
    with transaction.atomic():
        audit_record(actor=dco, action="test.kept")
    assert audit_chain_verify().valid


@pytest.mark.django_db(transaction=True)
def test_concurrent_single_and_bulk_writers_keep_one_chain(dco):
    threads_n, rounds = 6, 10
    barrier = threading.Barrier(threads_n)
    errors = []

    def worker(n):
        try:
            barrier.wait()
            for r in range(rounds):
                with transaction.atomic():
                    if n % 2:
                        audit_record_many(actor=dco, entries=[{"action": "test.bulk", "object_id": r}] * 3)
                    else:
                        audit_record(actor=dco, action="test.single", object_id=r)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    expected = (threads_n // 2) * rounds * 3 + (threads_n // 2) * rounds
    assert audit_chain_verify().as_dict() == {"valid": True, "entries": expected, "first_broken": None}


@pytest.mark.django_db
def test_chain_head_cannot_be_wound_back_or_deleted(dco):
    from django.db import connection

    with transaction.atomic():
        audit_record_many(actor=dco, entries=[{"action": "test.x"}] * 3)
    attempts = [
        "UPDATE audit_auditchainhead SET sequence = 2",
        "UPDATE audit_auditchainhead SET hash = 'forged'",
        "UPDATE audit_auditchainhead SET sequence = 9",
        "DELETE FROM audit_auditchainhead",
    ]
    for sql in attempts:
        with pytest.raises(Exception, match="chain head"), transaction.atomic(), connection.cursor() as c:
            c.execute(sql)
    with transaction.atomic():
        audit_record(actor=dco, action="test.after")
    assert audit_chain_verify().as_dict() == {"valid": True, "entries": 4, "first_broken": None}
