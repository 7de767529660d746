"""Schemathesis against the live test server, with each role's token and anonymous: zero 5xx
(valid and invalid input), zero responses that break the OpenAPI schema. Bounded: a few cases
per operation and mode, each sent by a caller drawn among anonymous and every role,
derandomized (the same cases every run), under a wall-clock guard (CI runs it in `make test`)."""

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from apps.accounts.roles import ROLES

EXAMPLES = 3  # per operation and mode (valid input; invalid input)
BUDGET_SECONDS = 120  # a guard against a runaway run, not a target
# Revoking the callers' tokens would leave the rest of the run anonymous: these go last.
LAST = ("/api/v1/auth/logout/", "/api/v1/auth/logout-all/")


def _summary(exc) -> str:
    return " ".join(str(exc).split())[:400]


def _runner(strategy, base, callers, failures, counter, checks):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, caller=st.sampled_from(sorted(callers)))
    def run(case, caller):
        counter[0] += 1
        response = case.call(base_url=base, headers=callers[caller], timeout=10)
        try:
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(
                f"{caller} {case.method} {case.formatted_path} -> {response.status_code}: {_summary(exc)}"
            )

    return run


@pytest.mark.django_db(transaction=True)
def test_no_5xx_and_no_schema_violation_for_any_role(plain_live_server, make_user):
    base = plain_live_server.url
    callers = {"anonymous": {}}
    for role in ROLES:
        user = make_user(role, username=f"fuzz-{role}")
        callers[role] = {"Authorization": f"Token {AuthToken.objects.create(user=user)[1]}"}
    schema = schemathesis.openapi.from_url(f"{base}/api/schema/")
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: op.path in LAST)
    assert len(operations) > 40

    failures, counter = [], [0]
    started = time.monotonic()
    for operation in operations:
        if time.monotonic() - started > BUDGET_SECONDS:
            pytest.fail(f"budget of {BUDGET_SECONDS}s spent after {counter[0]} calls: lower EXAMPLES")
        # Valid input: no 5xx, and every answer as the schema says.
        _runner(
            operation.as_strategy(),
            base,
            callers,
            failures,
            counter,
            [not_a_server_error, response_schema_conformance],
        )()
        # Invalid input (wrong types, missing fields, odd path values): never a 5xx.
        try:
            negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
            _runner(negative, base, callers, failures, counter, [not_a_server_error])()
        except Unsatisfiable:  # nothing to make invalid (no parameter, no body)
            pass
    elapsed = time.monotonic() - started
    print(f"schemathesis: {len(operations)} operations, {counter[0]} calls in {elapsed:.1f}s")
    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} failing cases:\n" + "\n".join(unique[:60])
