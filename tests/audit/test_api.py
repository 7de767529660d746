import pytest
from django.db import transaction

from apps.audit.services import audit_record_many


@pytest.mark.django_db
def test_audit_list_is_paginated_filtered_and_cheap(api, auditor, dco, django_assert_max_num_queries):
    with transaction.atomic():
        audit_record_many(
            actor=dco,
            entries=[
                {"action": "post.create" if i % 2 else "crisis.declare", "object_id": i} for i in range(60)
            ],
        )
    client = api.as_user(auditor)
    with django_assert_max_num_queries(5):  # token, user groups, count, page
        page = client.get("/api/v1/audit/").json()
    assert page["count"] == 60 and len(page["results"]) == 50
    assert page["results"][0]["sequence"] == 60  # newest first
    assert page["results"][0]["actor_repr"] == dco.username
    crises = client.get("/api/v1/audit/?action_prefix=crisis.").json()
    assert crises["count"] == 30
    one = client.get("/api/v1/audit/7/").json()
    assert one["sequence"] == 7 and len(one["hash"]) == 64
    assert client.post("/api/v1/audit/", {}, format="json").status_code == 405
