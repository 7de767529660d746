"""The audit action registry: the trail's vocabulary is one declared list (apps/audit/actions.py)."""

import pytest
from django.db import transaction

from apps.audit.actions import ACTIONS
from apps.audit.models import AuditEntry
from apps.audit.selectors import audit_chain_verify
from apps.audit.services import audit_record, audit_record_many


@pytest.mark.django_db
def test_an_unknown_action_is_refused_and_nothing_is_written(dco):
    """Mutation: the `keys is None` refusal removed from audit_action_check -> the misspelt
    action is written -> this test fails."""
    with pytest.raises(ValueError, match=r"crisis\.delcare"), transaction.atomic():
        audit_record(actor=dco, action="crisis.delcare", details={"title": "x"})
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_an_undeclared_details_key_is_refused_and_the_batch_not_written(dco):
    """A batch with one bad item writes none of its entries (the check runs before the INSERT).

    Mutation: the undeclared-keys refusal removed from audit_action_check -> the entry with
    `secret` is written -> this test fails."""
    with pytest.raises(ValueError, match="secret"), transaction.atomic():
        audit_record_many(
            actor=dco,
            entries=[
                {"action": "gate.open", "details": {}},
                {"action": "gate.close", "details": {"reason": "storm", "secret": "x"}},
            ],
        )
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_declared_keys_are_optional(dco):
    with transaction.atomic():
        audit_record(actor=dco, action="gate.close", details={"reason": "storm"})
        audit_record(actor=dco, action="gate.close")
    assert AuditEntry.objects.count() == 2 and audit_chain_verify().valid


def test_every_action_is_namespaced():
    assert all(
        name.count(".") == 1 and name == name.lower() for name in ACTIONS if not name.startswith("test.")
    )
