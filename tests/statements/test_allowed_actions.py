"""What a person may do with a statement is asked from the services (statements/actions.py): the
page offers exactly those actions, and each offered action is one the service accepts (and each
refused one is refused). One rule, one place: change a service's check and the page follows."""

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.core.errors import ServiceError
from apps.statements import selectors, services

from .conftest import approve_too_late, grant

pytestmark = pytest.mark.django_db

STATEMENT_ACTIONS = {
    "statement.edit",
    "statement.submit",
    "statement.approve",
    "statement.reject",
    "statement.request_changes",
    "statement.publish",
    "statement.withdraw",
}


class _Undo(Exception):
    pass


def _service_accepts(action, *, user, statement) -> bool:
    """Try the service for `action` and roll it back whatever happens."""
    calls = {
        "statement.edit": lambda: services.statement_edit(
            actor=user, statement=statement, body=statement.body + " (edited)"
        ),
        "statement.submit": lambda: services.statement_submit(actor=user, statement=statement),
        "statement.approve": lambda: services.statement_decide(
            actor=user, statement=statement, verdict="approve"
        ),
        "statement.reject": lambda: services.statement_decide(
            actor=user, statement=statement, verdict="reject", comment="no"
        ),
        "statement.request_changes": lambda: services.statement_decide(
            actor=user, statement=statement, verdict="request_changes", comment="shorter"
        ),
        "statement.publish": lambda: services.statement_publish(actor=user, statement=statement),
        "statement.withdraw": lambda: services.statement_withdraw(actor=user, statement=statement),
    }
    try:
        with transaction.atomic():
            calls[action]()
            raise _Undo
    except _Undo:
        return True
    except ServiceError:
        return False


def _page_actions(client, user, statement) -> tuple[set[str], set[str]]:
    """The data-action markers on the statement page, and the objects marked."""
    client.force_login(user)
    page = client.get(f"/statements/{statement.pk}/").content.decode()
    return set(re.findall(r'data-action="([^"]+)"', page)), set(re.findall(r'data-object="([^"]+)"', page))


@pytest.fixture
def states(people, crisis, chain, accounts):
    """A statement in each state a person acts on: draft, in review (step 1), approved after
    its time, being published, withdrawn."""
    grant(people["dco"], people["author"], topics=["launch"])

    def new(body):
        return services.statement_create(
            actor=people["author"], crisis=crisis, body=body, accounts=[accounts["x"]]
        )

    draft = new("Draft")
    in_review = new("In review")
    services.statement_submit(actor=people["author"], statement=in_review)
    approved = approve_too_late(people=people, statement=new("Approved late"))
    publishing = approve_too_late(people=people, statement=new("Publishing"))
    services.statement_publish(
        actor=people["dco"], statement=publishing, at=timezone.now() + timedelta(hours=1)
    )
    withdrawn = new("Withdrawn")
    services.statement_withdraw(actor=people["author"], statement=withdrawn)
    return {
        "draft": draft,
        "in_review": in_review,
        "approved": approved,
        "publishing": publishing,
        "withdrawn": withdrawn,
    }


def test_the_page_offers_exactly_what_the_services_accept(client, people, states):
    """For each person and each statement state: the page's data-action markers are the allowed
    set, and the allowed set is what the services accept (tried and rolled back).
    Mutation: statement_allowed_actions adds `statement.withdraw` without asking
    statement_check_withdraw -> the withdrawn/published rows disagree; this test fails.
    Mutation: the template shows the submit form without asking `actions` -> the page offers
    `statement.submit` to people the service refuses; this test fails."""
    for name, statement in states.items():
        for who in ("author", "expert", "dco", "dco2", "outsider"):
            user = people[who]
            statement.refresh_from_db()
            allowed = services.statement_allowed_actions(user=user, statement=statement)
            accepted = {a for a in STATEMENT_ACTIONS if _service_accepts(a, user=user, statement=statement)}
            assert allowed & STATEMENT_ACTIONS == accepted, (name, who, allowed, accepted)
            if not selectors.statement_list(user=user).filter(pk=statement.pk).exists():
                continue  # the page is not theirs to read (404)
            offered, objects = _page_actions(client, user, statement)
            assert offered == set(allowed), (name, who, offered, allowed)
            assert objects == {f"statements.statement:{statement.pk}"}


def test_one_person_is_not_offered_two_steps(people, states):
    """The step's reviewer is offered the three verdicts; an expert who is also a DCO and decided
    step 1 is not offered step 2 (one person does not fill two steps), another DCO is.
    Mutation: run_check_decide without its two-steps check -> the expert-and-DCO is offered
    step 2; this test fails."""
    statement = states["in_review"]
    statement.refresh_from_db()
    both = people["expert2"]
    both.groups.add(*people["dco"].groups.all())
    verdicts = {"statement.approve", "statement.reject", "statement.request_changes"}
    assert verdicts <= services.statement_allowed_actions(user=both, statement=statement)
    assert not verdicts & services.statement_allowed_actions(user=people["author"], statement=statement)
    services.statement_decide(actor=both, statement=statement, verdict="approve")
    statement.refresh_from_db()
    both = type(both).objects.get(pk=both.pk)  # no cached roles
    assert not verdicts & services.statement_allowed_actions(user=both, statement=statement)
    assert verdicts <= services.statement_allowed_actions(user=people["dco"], statement=statement)
