"""The demo seed writes people through the accounts services: every write audited (by the
system), and a re-run that finds everything in place writes no account entry."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.accounts.roles import user_roles
from apps.audit.models import AuditEntry
from apps.audit.selectors import audit_chain_verify

pytestmark = pytest.mark.django_db


def test_seed_demo_audits_each_demo_user_and_a_rerun_writes_no_account_entry():
    """Mutation: seed_demo._users making the user with User.objects.create_user instead of
    user_create -> no account.create entry for `dco` -> this test fails."""
    call_command("seed_demo", "--days", "0")
    dco = get_user_model().objects.get(username="dco")
    assert user_roles(dco) == {"dco", "employee"} and dco.check_password("dco-demo-2026")
    created = AuditEntry.objects.get(action="account.create", object_type="auth.user", object_id=str(dco.pk))
    assert created.actor_id is None and created.details["via"] == "seed_demo"
    roles = AuditEntry.objects.get(
        action="account.roles_change", object_type="auth.user", object_id=str(dco.pk)
    )
    assert roles.details["after"] == ["dco", "employee"] and roles.details["who"] == "system"
    assert AuditEntry.objects.filter(action="account.password_set", object_id=str(dco.pk)).exists()
    accounts_before = AuditEntry.objects.filter(action__startswith="account.").count()

    call_command("seed_demo", "--days", "0")
    assert AuditEntry.objects.filter(action__startswith="account.").count() == accounts_before
    assert audit_chain_verify().valid
