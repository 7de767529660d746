import pytest
from django.contrib.auth import get_user_model


@pytest.mark.django_db
def test_role_filter_lists_only_holders_of_that_role(api, make_user, dco, auditor):
    make_user("dco", "expert", username="both")
    make_user("auditor", username="aud", is_active=False)
    client = api.as_user(auditor)
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
def test_employees_list_only_themselves(api, make_user, employee):
    """The whole directory is for the DCO, user administrators and auditors.

    Mutation: the `users.filter(pk=viewer.pk)` restriction removed from UserViewSet.get_queryset
    -> the employee lists everyone -> this test fails."""
    others = [make_user("dco", username="boss"), make_user("expert", username="exp")]
    rows = api.as_user(employee).get("/api/v1/users/").json()
    assert [u["username"] for u in rows["results"]] == ["employee1"] and rows["count"] == 1
    assert api.get(f"/api/v1/users/{others[0].pk}/").status_code == 404
    for role in ("dco", "admin", "auditor"):
        reader = make_user(role, username=f"reader-{role}")
        assert api.as_user(reader).get("/api/v1/users/").json()["count"] == get_user_model().objects.count()


@pytest.mark.django_db
def test_roles_api_is_for_user_administrators_only(api, make_user, dco, employee):
    """Separation of duties at the API door.

    Mutation: the is_user_administrator() test removed from UserViewSet.roles -> the dco's
    malformed request is validated (400) before the service refuses it -> this test fails."""
    from apps.audit.models import AuditEntry

    url = f"/api/v1/users/{employee.pk}/roles/"
    refused = api.as_user(dco).post(url, {"roles": ["dco"]}, format="json")
    assert refused.status_code == 403 and "user administrator" in refused.json()["detail"]
    # Rights before input: a dco's malformed request is refused, not validated.
    assert api.as_user(dco).post(url, {"roles": "pope"}, format="json").status_code == 403
    useradmin = make_user("admin", username="useradmin")
    client = api.as_user(useradmin)
    done = client.post(url, {"roles": ["dco", "employee"]}, format="json")
    assert done.status_code == 200 and done.json()["roles"] == ["dco", "employee"]
    entry = AuditEntry.objects.get(action="account.roles_change")
    assert entry.details == {
        "who": "useradmin",
        "whom": "employee1",
        "before": ["employee"],
        "after": ["dco", "employee"],
        "door": "api",
    }
    both = client.post(url, {"roles": ["dco", "admin"]}, format="json")
    assert both.status_code == 400 and "roles" in both.json()["errors"]
    assert "same person" in both.json()["detail"]
    bad = client.post(url, {"roles": ["pope"]}, format="json")
    assert bad.status_code == 400 and "roles" in bad.json()["errors"]
    chief = make_user(username="chief", is_superuser=True, is_staff=True)
    assert client.post(f"/api/v1/users/{chief.pk}/roles/", {"roles": []}, format="json").status_code == 403
    # An admin does not make themselves dco either.
    assert (
        client.post(
            f"/api/v1/users/{useradmin.pk}/roles/", {"roles": ["admin", "dco"]}, format="json"
        ).status_code
        == 400
    )


@pytest.mark.django_db
def test_the_roles_service_refuses_a_dco_whatever_door_calls_it(dco, employee, make_user):
    """Mutation: the is_user_administrator() test removed from services.check_roles_grant ->
    the dco's call goes through -> this test fails (the API view has its own check too)."""
    from apps.accounts.roles import user_roles
    from apps.accounts.services import user_roles_set
    from apps.core.errors import NotAllowedError, ServiceError

    with pytest.raises(NotAllowedError, match="user administrator"):
        user_roles_set(actor=dco, user=employee, roles=["dco"], door="test")
    assert user_roles(get_user_model().objects.get(pk=employee.pk)) == {"employee"}
    useradmin = make_user("admin", username="useradmin")
    with pytest.raises(ServiceError, match="same person"):
        user_roles_set(actor=useradmin, user=dco, roles=["dco", "admin"], door="test")
