"""Admin: chains are edited with their steps inline (and audited); the records are read-only."""

import pytest

from apps.audit.models import AuditEntry
from apps.statements.models import ChainStep, ValidationChain

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    admin = make_user("dco", username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_default_chain_comes_from_the_data_migration():
    chain = ValidationChain.objects.get(is_default=True)
    assert chain.name == "Expert review then DCO approval"
    assert [(s.order, s.role, s.rule) for s in chain.steps.order_by("order")] == [
        (1, "expert", "any"),
        (2, "dco", "any"),
    ]


def test_every_model_has_an_admin_page(admin_client, chain):
    for model in (
        "validationchain",
        "mandate",
        "statement",
        "statementrevision",
        "approvalrequest",
        "decision",
        "statementpost",
    ):
        assert admin_client.get(f"/admin/statements/{model}/").status_code == 200, model
    assert admin_client.get(f"/admin/statements/validationchain/{chain.pk}/change/").status_code == 200
    # Records of what happened are not written by hand.
    assert admin_client.get("/admin/statements/decision/add/").status_code == 403
    assert admin_client.get("/admin/statements/statementrevision/add/").status_code == 403


def test_a_chain_is_created_with_inline_steps_and_audited(admin_client, make_user):
    legal = make_user(username="legal")
    res = admin_client.post(
        "/admin/statements/validationchain/add/",
        {
            "name": "Legal then DCO",
            "description": "",
            "steps-TOTAL_FORMS": "2",
            "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
            "steps-0-order": "1",
            "steps-0-name": "Legal",
            "steps-0-role": "",
            "steps-0-users": [str(legal.pk)],
            "steps-0-rule": "all",
            "steps-1-order": "2",
            "steps-1-name": "DCO",
            "steps-1-role": "dco",
            "steps-1-rule": "any",
        },
    )
    assert res.status_code == 302, res.content[:2000]
    chain = ValidationChain.objects.get(name="Legal then DCO")
    steps = list(ChainStep.objects.filter(chain=chain).order_by("order"))
    assert [(s.name, s.rule) for s in steps] == [("Legal", "all"), ("DCO", "any")]
    assert list(steps[0].users.all()) == [legal]
    entry = AuditEntry.objects.get(action="chain.create")
    assert entry.actor_repr == "root" and [s["name"] for s in entry.details["steps"]] == ["Legal", "DCO"]


def test_deleting_chains_with_the_bulk_action_is_audited(admin_client):
    chain = ValidationChain.objects.create(name="Temporary chain")
    res = admin_client.post(
        "/admin/statements/validationchain/",
        {"action": "delete_selected", "_selected_action": [str(chain.pk)], "post": "yes"},
    )
    assert res.status_code == 302
    assert not ValidationChain.objects.filter(pk=chain.pk).exists()
    entry = AuditEntry.objects.get(action="chain.delete")
    assert entry.object_id == str(chain.pk) and entry.details == {"name": "Temporary chain"}


def test_evidence_is_never_deleted_through_the_admin(admin_client, people, crisis, chain, accounts):
    """Statements, revisions, approvals, decisions, mandates and their post links: no delete page,
    no "delete selected" action, even for a superuser; a chain that ran is kept too.
    Mutation: has_delete_permission of ReadOnlyAdmin returning True -> this test fails (the
    delete pages answer 200 and the bulk action lists "delete_selected")."""
    from django.db.models import ProtectedError

    from apps.statements import services
    from apps.statements.models import ApprovalRequest, Decision, Mandate, Statement, StatementRevision

    from .conftest import grant

    grant(people["dco"], people["author"], topics=["launch"])
    s = services.statement_create(
        actor=people["author"], crisis=crisis, body="Text", accounts=[accounts["x"]]
    )
    services.statement_submit(actor=people["author"], statement=s)
    services.statement_decide(actor=people["expert"], statement=s, verdict="approve")
    records = {
        "statement": Statement.objects.get(),
        "statementrevision": StatementRevision.objects.get(),
        "approvalrequest": ApprovalRequest.objects.get(),
        "decision": Decision.objects.get(),
        "mandate": Mandate.objects.get(),
    }
    for model, obj in records.items():
        assert admin_client.get(f"/admin/statements/{model}/{obj.pk}/delete/").status_code == 403, model
        page = admin_client.get(f"/admin/statements/{model}/").content.decode()
        assert 'value="delete_selected"' not in page, model
    res = admin_client.post(
        "/admin/statements/statement/",
        {"action": "delete_selected", "_selected_action": [str(s.pk)], "post": "yes"},
    )
    assert Statement.objects.filter(pk=s.pk).exists()
    # The chain that ran: no delete page, and the database refuses it anyway.
    assert admin_client.get(f"/admin/statements/validationchain/{chain.pk}/delete/").status_code == 403
    with pytest.raises(ProtectedError):
        chain.delete()
    with pytest.raises(ProtectedError):
        Statement.objects.filter(pk=s.pk).delete()
    assert res.status_code in (200, 302)


def test_no_chain_step_gives_the_user_administrator_a_decision(admin_client, make_user, people):
    """Separation of duties: the `admin` role (user administrator) holds no crisis power, so no
    validation step can be given to it — not in the admin form, and a step stored with it anyway
    lets no one decide. Mutation: `admin` kept in ChainStep.role's choices -> the form saves and
    this test fails."""
    from apps.statements.selectors import step_allows, step_people_ids

    res = admin_client.post(
        "/admin/statements/validationchain/add/",
        {
            "name": "Admin approves",
            "description": "",
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
            "steps-0-order": "1",
            "steps-0-name": "Administrator",
            "steps-0-role": "admin",
            "steps-0-rule": "any",
        },
    )
    assert res.status_code == 200 and not ValidationChain.objects.filter(name="Admin approves").exists()
    chain = ValidationChain.objects.create(name="Stored by hand")
    step = ChainStep.objects.create(chain=chain, order=1, name="Administrator", role="admin")
    administrator = make_user("admin", username="useradmin")
    assert not step_allows(step=step, user=administrator) and step_people_ids(step=step) == set()


def test_a_chain_changed_in_the_admin_goes_through_the_service(admin_client, make_user):
    """The admin's change form hands the chain and its steps to chain_update (DCO, audited
    `chain.change` with the steps as saved). Making it the default demotes the old default.
    Mutation: ValidationChainAdmin.save_related not calling chain_update -> nothing is saved and
    no entry is written; this test fails."""
    from apps.statements import services

    old_default = ValidationChain.objects.get(is_default=True)
    chain = ValidationChain.objects.create(name="Legal only")
    step = ChainStep.objects.create(chain=chain, order=1, name="Legal", role="expert")
    res = admin_client.post(
        f"/admin/statements/validationchain/{chain.pk}/change/",
        {
            "name": "Legal then DCO",
            "description": "",
            "is_default": "on",
            "steps-TOTAL_FORMS": "2",
            "steps-INITIAL_FORMS": "1",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
            "steps-0-id": str(step.pk),
            "steps-0-chain": str(chain.pk),
            "steps-0-order": "1",
            "steps-0-name": "Legal review",
            "steps-0-role": "expert",
            "steps-0-rule": "any",
            "steps-1-chain": str(chain.pk),
            "steps-1-order": "2",
            "steps-1-name": "DCO",
            "steps-1-role": "dco",
            "steps-1-rule": "any",
        },
    )
    assert res.status_code == 302, [x for x in res.content.decode().splitlines() if "error" in x][:20]
    chain.refresh_from_db()
    old_default.refresh_from_db()
    assert chain.name == "Legal then DCO" and chain.is_default and not old_default.is_default
    assert [(s.order, s.name) for s in chain.steps.order_by("order")] == [(1, "Legal review"), (2, "DCO")]
    entry = AuditEntry.objects.get(action="chain.change")
    assert entry.actor_repr == "root" and [s["name"] for s in entry.details["steps"]] == [
        "Legal review",
        "DCO",
    ]
    # The service refuses a field it does not edit, naming it.
    with pytest.raises(services.ServiceError) as refused:
        services.chain_update(actor=make_user("dco", username="dco9"), chain=chain, data={"pk": 3})
    assert refused.value.field == "pk"


def test_only_the_dco_edits_chains(client, make_user, people, chain):
    """Not the admin's staff flag but the DCO role: a superuser without it can read the chains
    but not add, change or delete one, and the services refuse such an actor too.
    Mutation: require_role left out of chain_create -> the expert's chain is created; this test
    fails. Mutation: has_role left out of ValidationChainAdmin.has_add_permission -> the add page
    answers 200; this test fails."""
    from apps.core.errors import ConflictError, NotAllowedError
    from apps.statements import services

    root = make_user("auditor", username="root2", is_staff=True, is_superuser=True)
    client.force_login(root)
    assert client.get("/admin/statements/validationchain/").status_code == 200
    assert client.get("/admin/statements/validationchain/add/").status_code == 403
    assert client.get(f"/admin/statements/validationchain/{chain.pk}/delete/").status_code == 403
    with pytest.raises(NotAllowedError):
        services.chain_create(actor=people["expert"], data={"name": "Mine"})
    with pytest.raises(NotAllowedError):
        services.chain_delete(actor=people["expert"], chain=chain)
    assert ValidationChain.objects.filter(name="Mine").count() == 0
    # The DCO deletes an unused chain (audited), never one that ran.
    spare = services.chain_create(actor=people["dco"], data={"name": "Spare"})
    services.chain_delete(actor=people["dco"], chain=spare)
    assert AuditEntry.objects.filter(action="chain.delete", object_id=str(spare.pk)).count() == 1
    from apps.statements.models import ApprovalRequest

    if ApprovalRequest.objects.filter(chain=chain).exists():
        with pytest.raises(ConflictError):
            services.chain_delete(actor=people["dco"], chain=chain)
