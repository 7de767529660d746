"""Mandates: granted and revoked by the DCO, audited; expiry and revocation work by themselves."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.statements import services
from apps.statements.models import Mandate

from .conftest import grant

pytestmark = pytest.mark.django_db


def test_dco_grants_and_revokes_a_mandate_and_both_are_audited(api, people, auditor):
    speaker = people["author"]
    until = (timezone.now() + timedelta(days=7)).isoformat()
    res = api.as_user(people["dco"]).post(
        "/api/v1/mandates/",
        {"user": speaker.pk, "topics": ["Launch"], "networks": ["x"], "valid_until": until},
        format="json",
    )
    assert res.status_code == 201, res.json()
    body = res.json()
    assert body["user"] == speaker.pk and body["topics"] == ["Launch"] and body["networks"] == ["x"]
    assert body["active"] is True and body["granted_by"] == people["dco"].pk

    res = api.post(f"/api/v1/mandates/{body['id']}/revoke/", {"reason": "left the team"}, format="json")
    assert res.status_code == 200
    assert res.json()["revoked_at"] and res.json()["active"] is False
    # Revoking twice conflicts with the current state.
    assert api.post(f"/api/v1/mandates/{body['id']}/revoke/", {}, format="json").status_code == 409

    trail = api.as_user(auditor).get(
        "/api/v1/audit/", {"object_type": "statements.mandate", "object_id": body["id"]}
    )
    actions = [e["action"] for e in reversed(trail.json()["results"])]
    assert actions == ["mandate.grant", "mandate.revoke"]


def test_only_the_dco_grants_or_revokes(api, people):
    until = (timezone.now() + timedelta(days=7)).isoformat()
    for who in ("author", "expert", "outsider"):
        res = api.as_user(people[who]).post(
            "/api/v1/mandates/", {"user": people[who].pk, "valid_until": until}, format="json"
        )
        assert res.status_code == 403
    m = grant(people["dco"], people["author"])
    assert api.as_user(people["author"]).post(f"/api/v1/mandates/{m.pk}/revoke/").status_code == 403
    assert Mandate.objects.get(pk=m.pk).revoked_at is None
    # A holder sees their own mandate, not others'.
    grant(people["dco"], people["expert"])
    listed = api.as_user(people["author"]).get("/api/v1/mandates/").json()["results"]
    assert [x["id"] for x in listed] == [m.pk]


def test_bad_mandate_input_names_the_field(api, people):
    client = api.as_user(people["dco"])
    past = (timezone.now() - timedelta(days=1)).isoformat()
    res = client.post("/api/v1/mandates/", {"user": people["author"].pk, "valid_until": past}, format="json")
    assert res.status_code == 400 and "valid_until" in res.json()["errors"]
    future = (timezone.now() + timedelta(days=1)).isoformat()
    res = client.post(
        "/api/v1/mandates/",
        {"user": people["author"].pk, "valid_until": future, "networks": ["myspace"]},
        format="json",
    )
    assert res.status_code == 400 and "networks" in res.json()["errors"]
    assert not Mandate.objects.exists()


def test_activity_and_coverage_are_computed_at_use_time(people):
    dco, user = people["dco"], people["author"]
    now = timezone.now()
    m = grant(dco, user, topics=["LAUNCH"], networks=["X"])
    assert m.is_active() and m.covers_topics(["launch", "budget"]) and not m.covers_topics(["budget"])
    assert m.allowed_networks() == {"x"}
    assert not m.is_active(at=m.valid_until) and not m.is_active(at=now - timedelta(days=1))
    everything = grant(dco, user)
    assert everything.covers_topics([]) and everything.covers_topics(["anything"])
    assert everything.allowed_networks() is None


def test_mandate_list_is_bounded_in_queries(api, people, make_user, django_assert_max_num_queries):
    for i in range(6):
        m = grant(people["dco"], make_user("spokesperson", username=f"speaker{i}"))
        if i % 2:
            services.mandate_revoke(actor=people["dco"], mandate=m)
    client = api.as_user(people["dco"])
    with django_assert_max_num_queries(6):
        res = client.get("/api/v1/mandates/")
    assert [r["active"] for r in res.json()["results"]].count(False) == 3
    one = res.json()["results"][0]["user"]
    assert [r["user"] for r in client.get("/api/v1/mandates/", {"user": one}).json()["results"]] == [one]


def test_non_dco_gets_403_on_mandate_writes_whatever_it_sends(api, people):
    """Rights are checked before input: an empty body from an employee is 403, not 400."""
    mandate = grant(people["dco"], people["author"])
    client = api.as_user(people["outsider"])
    assert client.post("/api/v1/mandates/", {}, format="json").status_code == 403
    assert client.post(f"/api/v1/mandates/{mandate.pk}/revoke/", {}, format="json").status_code == 403
    assert Mandate.objects.get(pk=mandate.pk).revoked_at is None
