"""The statements API's answers, with every account state in them, match the OpenAPI schema it
publishes (what clients and the schemathesis run read): checked on real answers from a live
server, since the fuzzing run rarely reaches a statement being published."""

import pytest
import requests
import schemathesis
from knox.models import AuthToken

from apps.posts.models import SocialAccount
from apps.statements import services
from apps.statements.models import Statement
from apps.statements.selectors import statement_account_states
from tests.core.servers import free_port

from .test_account_states import _approved_and_sent


@pytest.mark.django_db(transaction=True)
def test_statement_answers_with_account_states_match_the_schema(live, people, crisis, chain, desk, accounts):
    """Mutation: `by_hand` left out of AccountStateSerializer.state's choices (the schema's enum)
    -> the answer breaks the schema; this test fails."""
    unreachable = SocialAccount.objects.create(
        network="mastodon",
        handle="@press@social.example",
        connector="mastodon",
        config={"base_url": f"http://127.0.0.1:{free_port()}", "access_token": "tok"},
    )
    # by hand, failed for good, sent, still retrying; and a draft with no post yet.
    statement, _ = _approved_and_sent(
        people, crisis, [desk["manual"], desk["refusing"], accounts["x"], unreachable]
    )
    services.statement_create(actor=people["author"], crisis=crisis, body="draft", accounts=[accounts["x"]])
    states = {a["state"] for s in Statement.objects.all() for a in statement_account_states(statement=s)}
    assert states == {"by_hand", "failing", "sent", "not_started"}

    schema = schemathesis.openapi.from_url(f"{live.url}/api/schema/")
    for user in (people["dco"], people["author"], desk["li_person"]):
        headers = {"Authorization": f"Token {AuthToken.objects.create(user=user)[1]}"}
        for path, template in (
            ("/api/v1/statements/", "/api/v1/statements/"),
            (f"/api/v1/statements/{statement.pk}/", "/api/v1/statements/{id}/"),
        ):
            response = requests.get(live.url + path, headers=headers, timeout=10)
            assert response.status_code == 200, (user, path, response.text[:300])
            schema[template]["GET"].validate_response(response)
