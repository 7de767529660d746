import pytest
from django.contrib.auth.models import Group

from apps.accounts.models import profile_of
from apps.accounts.roles import user_roles
from apps.audit.models import AuditEntry


@pytest.fixture
def admin_client(client, make_user):
    chief = make_user("dco", username="chief", is_staff=True, is_superuser=True)
    client.force_login(chief)
    client.chief = chief
    return client


@pytest.mark.django_db
def test_changing_a_user_in_the_admin_is_audited(admin_client, make_user):
    target = make_user("employee", username="bob", email="bob@agency.example")
    dco_group = Group.objects.get(name="dco")
    employee_group = Group.objects.get(name="employee")
    resp = admin_client.post(
        f"/admin/auth/user/{target.pk}/change/",
        {
            "username": "bob",
            "first_name": target.first_name,
            "last_name": target.last_name,
            "email": "bob@agency.example",
            "is_active": "on",
            "groups": [dco_group.pk, employee_group.pk],
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": target.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": target.date_joined.strftime("%H:%M:%S"),
            "staff_profile-TOTAL_FORMS": "1",
            "staff_profile-INITIAL_FORMS": "0",
            "staff_profile-MIN_NUM_FORMS": "0",
            "staff_profile-MAX_NUM_FORMS": "1",
            "staff_profile-0-department": "Launchers",
            "staff_profile-0-language": "en",
            "staff_profile-0-phone": "",
            "staff_profile-0-user": str(target.pk),
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    target.refresh_from_db()
    assert user_roles(target) == {"dco", "employee"}
    assert profile_of(target) == ("en", "Launchers")
    entry = AuditEntry.objects.get(action="account.update", object_id=str(target.pk))
    assert entry.actor_id == admin_client.chief.pk
    assert entry.details["roles"] == [["employee"], ["dco", "employee"]]
    assert "profile.department" in entry.details["fields"]


@pytest.mark.django_db
def test_deleting_a_user_in_the_admin_is_audited(admin_client, make_user):
    target = make_user("employee", username="gone")
    resp = admin_client.post(f"/admin/auth/user/{target.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302
    entry = AuditEntry.objects.get(action="account.delete")
    assert entry.object_id == str(target.pk) and entry.details["username"] == "gone"


@pytest.mark.django_db
def test_admin_user_list_filters_by_role(admin_client, make_user):
    make_user("auditor", username="aud1")
    make_user("employee", username="emp1")
    page = admin_client.get("/admin/auth/user/?role=auditor").content.decode()
    assert "aud1" in page and "emp1" not in page


@pytest.mark.django_db
def test_the_dco_role_opens_the_admin_without_superuser_powers(client, tmp_path):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    csv = tmp_path / "staff.csv"
    csv.write_text("email,name,department,language,roles\nchief@agency.example,Chief Officer,Com,fr,dco\n")
    call_command("import_staff", str(csv))
    chief = get_user_model().objects.get(username="chief@agency.example")
    assert chief.is_staff and not chief.is_superuser
    client.force_login(chief)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 200
    assert client.get("/admin/audit/auditentry/").status_code == 200
    form = client.get(f"/admin/auth/user/{chief.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in form and 'name="groups"' in form

    # Out of the dco role: out of the admin.
    csv.write_text(
        "email,name,department,language,roles\nchief@agency.example,Chief Officer,Com,fr,employee\n"
    )
    call_command("import_staff", str(csv))
    chief.refresh_from_db()
    assert not chief.is_staff
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_group_changes_anywhere_keep_staff_status_in_step(make_user):
    user = make_user("employee", username="x")
    assert not user.is_staff
    user.groups.add(Group.objects.get(name="dco"))
    user.refresh_from_db()
    assert user.is_staff
    user.groups.clear()
    user.refresh_from_db()
    assert not user.is_staff
