"""The full audit trail of a statement, revision by revision, read through the audit API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.posts.services import post_send, posts_claim_due
from apps.statements.models import Statement

from .conftest import grant

pytestmark = pytest.mark.django_db


def test_full_audit_trail_revision_by_revision(api, people, crisis, chain, accounts, auditor):
    author, expert, dco, dco2 = people["author"], people["expert"], people["dco"], people["dco2"]
    grant(dco, author, topics=["launch"])

    def act(user, verb, **data):
        res = api.as_user(user).post(f"/api/v1/statements/{sid}/{verb}/", data, format="json")
        assert res.status_code == 200, res.json()

    sid = (
        api.as_user(author)
        .post(
            "/api/v1/statements/",
            {"crisis": crisis.pk, "body": "First words", "accounts": [accounts["x"].pk]},
            format="json",
        )
        .json()["id"]
    )
    act(author, "submit")
    act(expert, "request-changes", comment="too vague")
    api.as_user(author).patch(f"/api/v1/statements/{sid}/", {"body": "Second words"}, format="json")
    act(author, "submit")
    act(expert, "approve", comment="fine")
    # The review took longer than planned: the approval publishes nothing by itself.
    Statement.objects.filter(pk=sid).update(planned_at=timezone.now() - timedelta(minutes=1))
    act(dco, "approve")
    api.as_user(author).patch(
        f"/api/v1/statements/{sid}/", {"accounts": [accounts["x"].pk, accounts["mastodon"].pk]}, format="json"
    )
    act(author, "submit")
    act(people["expert2"], "approve")
    act(dco2, "approve")
    act(dco, "publish")
    for post_id in posts_claim_due():  # the publisher: both posts go out
        assert post_send(post_id=post_id) == "published"

    res = api.as_user(auditor).get(
        "/api/v1/audit/", {"object_type": "statements.statement", "object_id": sid, "page_size": 100}
    )
    assert res.status_code == 200
    trail = [
        (e["action"], e["actor_repr"], e["details"]["revision"], e["details"].get("comment"))
        for e in reversed(res.json()["results"])
    ]
    assert trail == [
        ("statement.create", "speaker", 1, None),
        ("statement.submit", "speaker", 1, None),
        ("statement.request_changes", "expert1", 1, "too vague"),
        ("statement.edit", "speaker", 2, None),
        ("statement.submit", "speaker", 2, None),
        ("statement.approve", "expert1", 2, "fine"),
        ("statement.approve", "dco1", 2, ""),
        ("statement.edit", "speaker", 3, None),  # voids the approval of revision 2
        ("statement.submit", "speaker", 3, None),
        ("statement.approve", "expert2", 3, ""),
        ("statement.approve", "dco2", 3, ""),
        ("statement.publish", "dco1", 3, None),
        ("statement.published", "system", 3, None),  # the last post is out: the publisher's doing
    ]
    entries = list(reversed(res.json()["results"]))
    assert entries[0]["details"]["body"] == "First words"
    assert entries[3]["details"]["body"] == "Second words" and entries[3]["details"]["voided_requests"] == []
    assert entries[7]["details"]["previous_status"] == "approved" and entries[7]["details"]["voided_requests"]
    assert entries[7]["details"]["accounts"] == [accounts["x"].pk, accounts["mastodon"].pk]
    assert len(entries[-2]["details"]["posts"]) == 2 and len(entries[-1]["details"]["posts"]) == 2
    # The chain of the whole trail still verifies.
    assert api.get("/api/v1/audit/verify/").json()["valid"] is True
    assert Statement.objects.get(pk=sid).status == "published"
