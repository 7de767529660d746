"""Statements: who may write them, revisions, the validation chain and its rules."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.statements.models import (
    ApprovalRequest,
    ChainStep,
    Decision,
    Statement,
    StatementRevision,
    ValidationChain,
)

from .conftest import approve_too_late, grant

pytestmark = pytest.mark.django_db


def _create(api, user, crisis, accounts, body="We are investigating the anomaly.", **extra):
    return api.as_user(user).post(
        "/api/v1/statements/",
        {"crisis": crisis.pk, "body": body, "accounts": [a.pk for a in accounts], **extra},
        format="json",
    )


@pytest.fixture
def holder(people, crisis):
    grant(people["dco"], people["author"], topics=["launch"])
    return people["author"]


@pytest.fixture
def statement(api, holder, crisis, accounts, chain):
    res = _create(api, holder, crisis, [accounts["x"]])
    assert res.status_code == 201, res.json()
    return Statement.objects.get(pk=res.json()["id"])


def _act(api, user, statement, verb, **data):
    return api.as_user(user).post(f"/api/v1/statements/{statement.pk}/{verb}/", data, format="json")


# --- who may write ---------------------------------------------------------------------------


def test_non_holder_gets_403_even_in_the_spokesperson_group(api, people, crisis, accounts):
    # The group alone is not a mandate.
    assert _create(api, people["author"], crisis, [accounts["x"]]).status_code == 403
    assert _create(api, people["outsider"], crisis, [accounts["x"]]).status_code == 403
    assert _create(api, people["dco"], crisis, [accounts["x"]]).status_code == 403
    assert not Statement.objects.exists()


def test_expired_mandate_gets_403(api, people, crisis, accounts):
    start = timezone.now() - timedelta(days=10)
    grant(people["dco"], people["author"], start=start, days=30)
    # Time passes: move the end of validity into the past, as the clock would.
    people["author"].mandates.update(valid_until=timezone.now() - timedelta(seconds=1))
    res = _create(api, people["author"], crisis, [accounts["x"]])
    assert res.status_code == 403 and res.json()["code"] == "no_mandate"


def test_revoked_mandate_gets_403_and_stops_edits_of_existing_drafts(api, people, statement, accounts):
    m = people["author"].mandates.get()
    api.as_user(people["dco"]).post(f"/api/v1/mandates/{m.pk}/revoke/", {}, format="json")
    res = api.as_user(people["author"]).patch(
        f"/api/v1/statements/{statement.pk}/", {"body": "new words"}, format="json"
    )
    assert res.status_code == 403
    assert _act(api, people["author"], statement, "submit").status_code == 403
    statement.refresh_from_db()
    assert statement.revision == 1 and statement.status == "draft"


def test_mandate_must_cover_the_crisis_topics_and_the_networks(api, people, crisis, accounts):
    grant(people["dco"], people["author"], topics=["budget"])
    assert _create(api, people["author"], crisis, [accounts["x"]]).status_code == 403
    grant(people["dco"], people["author"], topics=["ORBIT"], networks=["x"])
    assert _create(api, people["author"], crisis, [accounts["x"]]).status_code == 201
    res = _create(api, people["author"], crisis, [accounts["x"], accounts["mastodon"]])
    assert res.status_code == 403 and "accounts" in res.json()["errors"]


def test_bad_input_is_400_naming_the_field(api, holder, crisis, accounts):
    res = _create(api, holder, crisis, [], body="text")
    assert res.status_code == 400 and "accounts" in res.json()["errors"]
    res = _create(api, holder, crisis, [accounts["x"]], body="   ")
    assert res.status_code == 400 and "body" in res.json()["errors"]
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    res = _create(api, holder, crisis, [accounts["x"]], planned_at=past)
    assert res.status_code == 400 and "planned_at" in res.json()["errors"]


# --- revisions and the chain -------------------------------------------------------------------


def test_chain_runs_to_approval_with_decisions_bound_to_the_revision(api, people, statement):
    assert _act(api, people["author"], statement, "submit").json()["status"] == "in_review"
    res = _act(api, people["expert"], statement, "approve", comment="facts right", revision=1, step=1)
    assert res.status_code == 200 and res.json()["approval"]["step"]["order"] == 2
    res = _act(api, people["dco"], statement, "approve", revision=1)
    # No planned time: the final approval publishes (what the form's help text promises).
    assert res.status_code == 200 and res.json()["status"] == "publishing"
    assert [a["state"] for a in res.json()["account_states"]] == ["scheduled"]

    decisions = api.as_user(people["author"]).get(f"/api/v1/statements/{statement.pk}/decisions/").json()
    assert [(d["step"]["order"], d["verdict"], d["revision"]) for d in decisions] == [
        (1, "approve", 1),
        (2, "approve", 1),
    ]
    assert decisions[0]["comment"] == "facts right" and decisions[0]["actor"] == people["expert"].pk


def test_reviewers_are_notified_on_submission_and_the_author_on_every_decision(api, people, statement):
    notifications = pytest.importorskip("apps.notifications.models")
    start = notifications.NoticeEvent.objects.count()
    _act(api, people["author"], statement, "submit")
    _act(api, people["expert"], statement, "approve")
    _act(api, people["dco"], statement, "request-changes", comment="shorter please")
    events = [
        (e.event, sorted(e.recipients))
        for e in notifications.NoticeEvent.objects.order_by("created_at", "id")[start:]
    ]
    experts = sorted([people["expert"].pk, people["expert2"].pk])
    dcos = sorted([people["dco"].pk, people["dco2"].pk])
    author = [people["author"].pk]
    assert events == [
        ("statement.submitted", experts),  # step 1 reviewers (never the author)
        ("statement.decided", author),
        ("statement.submitted", dcos),  # step 2 reviewers once step 1 is done
        ("statement.decided", author),
    ]


def test_the_author_never_decides_on_their_own_statement(api, people, statement):
    people["author"].groups.add(*people["expert"].groups.all(), *people["dco"].groups.all())
    _act(api, people["author"], statement, "submit")
    res = _act(api, people["author"], statement, "approve")
    assert res.status_code == 403 and res.json()["code"] == "own_text"
    assert not Decision.objects.exists()


def test_an_edit_after_approval_voids_it(api, people, statement):
    statement = approve_too_late(people=people, statement=statement)

    res = api.as_user(people["author"]).patch(
        f"/api/v1/statements/{statement.pk}/", {"body": "A slightly different text."}, format="json"
    )
    assert res.status_code == 200
    assert res.json()["status"] == "draft" and res.json()["revision"] == 2 and res.json()["approval"] is None
    assert ApprovalRequest.objects.get().status == "voided"
    # Not approved any more: it cannot be published, and it must be submitted again.
    assert _act(api, people["dco"], statement, "publish").status_code == 409
    assert _act(api, people["author"], statement, "submit").json()["approval"]["step"]["order"] == 1

    revisions = api.as_user(people["author"]).get(f"/api/v1/statements/{statement.pk}/revisions/").json()
    assert [(r["number"], r["body"]) for r in revisions] == [
        (1, "We are investigating the anomaly."),
        (2, "A slightly different text."),
    ]
    # The old decisions stay, bound to revision 1; revisions are immutable rows.
    assert set(Decision.objects.values_list("revision__number", flat=True)) == {1}
    with pytest.raises(Exception, match="cannot be updated"):
        StatementRevision.objects.filter(statement=statement).update(body="rewritten")


def test_an_edit_during_review_restarts_the_chain(api, people, statement):
    _act(api, people["author"], statement, "submit")
    _act(api, people["expert"], statement, "approve")
    api.as_user(people["author"]).patch(f"/api/v1/statements/{statement.pk}/", {"body": "v2"}, format="json")
    # A decision aimed at the old revision is refused, not applied to the new one.
    assert _act(api, people["dco"], statement, "approve").status_code == 409
    _act(api, people["author"], statement, "submit")
    assert _act(api, people["dco"], statement, "approve", revision=1).status_code == 409
    res = _act(api, people["dco"], statement, "approve", revision=2)
    assert res.status_code == 403  # step 1 is expert review again


def test_one_person_does_not_fill_two_steps(api, people, statement):
    both = people["expert"]
    both.groups.add(*people["dco"].groups.all())
    _act(api, people["author"], statement, "submit")
    assert _act(api, both, statement, "approve").status_code == 200
    res = _act(api, both, statement, "approve")
    assert res.status_code == 403 and res.json()["code"] == "two_steps"
    assert _act(api, people["dco"], statement, "approve").json()["status"] == "publishing"


def test_only_people_of_the_current_step_decide(api, people, statement):
    _act(api, people["author"], statement, "submit")
    assert _act(api, people["dco"], statement, "approve").status_code == 403  # step 1 is for experts
    assert _act(api, people["outsider"], statement, "reject", comment="no").status_code in (403, 404)
    assert _act(api, people["expert"], statement, "approve", step=2).status_code == 409
    assert not Decision.objects.exists()


def test_request_changes_then_reject_need_a_comment_and_notify_the_author(api, people, statement):
    _act(api, people["author"], statement, "submit")
    assert _act(api, people["expert"], statement, "request-changes").status_code == 400
    res = _act(api, people["expert"], statement, "request-changes", comment="cite the source")
    assert res.json()["status"] == "changes_requested"
    assert _act(api, people["author"], statement, "submit").status_code == 409  # edit first
    api.as_user(people["author"]).patch(
        f"/api/v1/statements/{statement.pk}/", {"body": "v2 with source"}, format="json"
    )
    _act(api, people["author"], statement, "submit")
    _act(api, people["expert2"], statement, "approve")
    res = _act(api, people["dco"], statement, "reject", comment="not now")
    assert res.json()["status"] == "rejected"
    assert _act(api, people["dco2"], statement, "approve").status_code == 409


def test_explicit_people_and_the_all_rule(api, people, statement, make_user):
    a, b = make_user(username="legal1"), make_user(username="legal2")
    chain = ValidationChain.objects.create(name="Legal then DCO")
    legal = ChainStep.objects.create(chain=chain, order=1, name="Legal", rule="all")
    legal.users.set([a, b])
    ChainStep.objects.create(chain=chain, order=2, name="DCO", role="dco")
    res = _act(api, people["author"], statement, "submit", chain=chain.pk)
    assert res.json()["approval"]["chain"] == "Legal then DCO"
    assert _act(api, people["expert"], statement, "approve").status_code == 403  # not named
    assert _act(api, a, statement, "approve").json()["approval"]["step"]["order"] == 1  # b still due
    assert _act(api, b, statement, "approve").json()["approval"]["step"]["order"] == 2
    assert _act(api, people["dco"], statement, "approve").json()["status"] == "publishing"


def test_withdraw_by_author_or_dco(api, people, statement):
    _act(api, people["author"], statement, "submit")
    assert _act(api, people["expert"], statement, "withdraw").status_code == 403
    assert _act(api, people["author"], statement, "withdraw").json()["status"] == "withdrawn"
    assert ApprovalRequest.objects.get().status == "cancelled"
    assert _act(api, people["expert"], statement, "approve").status_code == 409


def test_list_is_bounded_in_queries(
    api, people, holder, crisis, accounts, chain, django_assert_max_num_queries
):
    for i in range(6):
        s = _create(api, holder, crisis, [accounts["x"], accounts["mastodon"]], body=f"s{i}").json()
        api.as_user(holder).post(f"/api/v1/statements/{s['id']}/submit/", {}, format="json")
    client = api.as_user(people["dco"])
    with django_assert_max_num_queries(10):
        res = client.get("/api/v1/statements/")
    assert res.status_code == 200 and len(res.json()["results"]) == 6
    assert all(r["approval"]["step"]["order"] == 1 for r in res.json()["results"])


def test_revisions_and_decisions_refuse_raw_sql_changes_on_postgres(api, people, statement):
    from django.db import connection, transaction

    _act(api, people["author"], statement, "submit")
    _act(api, people["expert"], statement, "approve")
    for table in ("statements_statementrevision", "statements_decision"):
        with pytest.raises(Exception, match="immutable"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"UPDATE {table} SET id = id")
        with pytest.raises(Exception, match="immutable"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"DELETE FROM {table}")
    assert Decision.objects.count() == 1 and StatementRevision.objects.count() == 1


def test_a_statements_life_is_in_the_crisis_timeline(people, statement, crisis):
    """The crisis timeline (API report, control room, web report) lists each statement's entries:
    the statements app registers them with crises.report. Mutation: the
    register_timeline_subjects call removed from StatementsConfig.ready() -> no statement entry
    in the timeline -> this test fails."""
    from apps.crises.selectors import crisis_timeline
    from apps.statements import services

    services.statement_submit(actor=people["author"], statement=statement)
    actions = [entry.action for entry in crisis_timeline(crisis=crisis)]
    assert "crisis.declare" in actions
    assert actions.index("statement.create") < actions.index("statement.submit")
