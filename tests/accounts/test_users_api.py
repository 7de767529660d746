import pytest


@pytest.mark.django_db
def test_role_filter_lists_only_holders_of_that_role(api, make_user, dco, employee):
    make_user("dco", "expert", username="both")
    make_user("auditor", username="aud", is_active=False)
    client = api.as_user(employee)
    names = {u["username"] for u in client.get("/api/v1/users/?role=dco").json()["results"]}
    assert names == {"dco1", "both"}
    experts = client.get("/api/v1/users/?role=expert").json()["results"]
    assert [u["username"] for u in experts] == ["both"] and experts[0]["roles"] == ["dco", "expert"]
    bad = client.get("/api/v1/users/?role=pope")
    assert bad.status_code == 400 and "role" in bad.json()["errors"]


@pytest.mark.django_db
def test_department_and_active_filters(api, make_user, dco):
    from apps.accounts.models import StaffProfile

    a = make_user("employee", username="a")
    make_user("employee", username="b", is_active=False)
    StaffProfile.objects.create(user=a, department="Launchers", language="en")
    client = api.as_user(dco)
    rows = client.get("/api/v1/users/?department=Launchers").json()["results"]
    assert [(u["username"], u["language"], u["department"]) for u in rows] == [("a", "en", "Launchers")]
    inactive = client.get("/api/v1/users/?is_active=false").json()["results"]
    assert [u["username"] for u in inactive] == ["b"]


@pytest.mark.django_db
def test_listing_runs_a_fixed_number_of_queries(api, make_user, dco, django_assert_max_num_queries):
    for i in range(30):
        make_user("employee", "expert", username=f"staff{i}")
    client = api.as_user(dco)
    # token auth + count + page + profiles (joined) + groups prefetch, whatever the page size
    with django_assert_max_num_queries(6):
        resp = client.get("/api/v1/users/")
    assert resp.json()["count"] == 31


@pytest.mark.django_db
def test_me_and_anonymous(api, employee):
    assert api.get("/api/v1/users/me/").status_code == 401
    me = api.as_user(employee).get("/api/v1/users/me/").json()
    assert me["username"] == "employee1" and me["roles"] == ["employee"]
    assert me["language"] == "fr" and me["department"] == ""  # defaults without a profile


@pytest.mark.django_db
def test_token_endpoint_slows_password_guessing(api, make_user):
    from django.core.cache import cache

    from apps.accounts.api import TOKEN_MAX_FAILURES

    cache.clear()
    make_user("employee", username="target")
    for _ in range(TOKEN_MAX_FAILURES):
        assert api.post("/api/v1/auth/token/", {"username": "target", "password": "guess"}).status_code == 400
    blocked = api.post("/api/v1/auth/token/", {"username": "Target", "password": "correct-horse-battery"})
    assert blocked.status_code == 429 and "Retry-After" in blocked
    # Another account from the same address is not locked out.
    make_user("employee", username="other")
    ok = api.post("/api/v1/auth/token/", {"username": "other", "password": "correct-horse-battery"})
    assert ok.status_code == 200
    cache.clear()
    assert (
        api.post(
            "/api/v1/auth/token/", {"username": "target", "password": "correct-horse-battery"}
        ).status_code
        == 200
    )
