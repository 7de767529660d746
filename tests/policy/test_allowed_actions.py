"""What a user may do with the policy is said once (services.policy_allowed_actions): the admin asks
it, the services check the same rule, and the seed command writes through them (audited)."""

import pytest
from django.core.management import call_command

from apps.audit.models import AuditEntry
from apps.policy import services
from apps.policy.models import PolicyRule

pytestmark = pytest.mark.django_db


def test_the_dco_may_change_the_policy_and_no_other_role(dco, make_user):
    assert services.policy_allowed_actions(user=dco) == services.POLICY_ACTIONS
    for role in ("employee", "auditor", "admin", "spokesperson", "expert"):
        assert services.policy_allowed_actions(user=make_user(role, username=f"u-{role}")) == frozenset()


def test_the_admin_shows_the_policy_to_whom_the_services_allow_it(client, make_user):
    """Mutation: policy_allowed_actions returning POLICY_ACTIONS for everyone -> the user
    administrator (staff, not dco) reaches the rules in the admin -> this test fails."""
    useradmin = make_user("admin", username="useradmin")
    client.force_login(useradmin)
    assert client.get("/admin/policy/policyrule/").status_code == 403
    client.force_login(make_user("dco", username="officer"))
    assert client.get("/admin/policy/policyrule/").status_code == 200


def test_the_seed_command_writes_each_restored_rule_with_its_audit_entry(dco):
    """Mutation: policy_rules_seed creating rules with PolicyRule.objects.create (no audit) ->
    no policy.rule_create entry by the system -> this test fails."""
    services.policy_rule_delete(actor=dco, rule=PolicyRule.objects.get(code="agency.voice"))
    call_command("policy_seed_rules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    entry = AuditEntry.objects.get(action="policy.rule_create")
    assert entry.actor_id is None and entry.details["code"] == "agency.voice"
    call_command("policy_seed_rules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert AuditEntry.objects.filter(action="policy.rule_create").count() == 1


def test_the_pages_offer_exactly_the_policy_actions_the_services_allow(client, dco, make_user):
    """Mutation: the rulings page's `can_rule` set to True for every reader -> the auditor is
    offered policy.ruling_record, which the service refuses -> this test fails."""
    import re

    auditor = make_user("auditor", username="reader")
    for user in (dco, auditor):
        client.force_login(user)
        page = client.get("/precheck/rulings/").content.decode()
        offered = set(re.findall(r'data-action="([^"]+)"', page))
        assert offered == set(services.policy_allowed_actions(user=user)) & {"policy.ruling_record"}
