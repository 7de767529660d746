"""The Django admin's user pages: who may enter, what each role sees and may change, and the
separation of duties (admin and dco never together; people administered by admin/superuser)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from apps.accounts.models import profile_of
from apps.accounts.roles import user_roles
from apps.audit.models import AuditEntry

User = get_user_model()


@pytest.fixture
def admin_client(client, make_user):
    chief = make_user("employee", username="chief", is_staff=True, is_superuser=True)
    client.force_login(chief)
    client.chief = chief
    return client


@pytest.fixture
def useradmin(make_user):
    return make_user("admin", username="useradmin")


def change_form(target, groups, **extra):
    """The POST of the admin's user change page, as the browser sends it."""
    data = {
        "username": target.username,
        "first_name": target.first_name,
        "last_name": target.last_name,
        "email": target.email,
        "is_active": "on",
        "groups": [g.pk for g in groups],
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
        "sso_identities-TOTAL_FORMS": "0",
        "sso_identities-INITIAL_FORMS": "0",
        "sso_identities-MIN_NUM_FORMS": "0",
        "sso_identities-MAX_NUM_FORMS": "1000",
    }
    data.update(extra)
    return data


def group(name):
    return Group.objects.get(name=name)


@pytest.mark.django_db
def test_changing_a_user_in_the_admin_is_audited_with_the_roles_change(admin_client, make_user):
    target = make_user("employee", username="bob", email="bob@agency.example")
    resp = admin_client.post(
        f"/admin/auth/user/{target.pk}/change/", change_form(target, [group("dco"), group("employee")])
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    target.refresh_from_db()
    assert user_roles(target) == {"dco", "employee"}
    assert profile_of(target) == ("en", "Launchers")
    entry = AuditEntry.objects.get(action="account.update", object_id=str(target.pk))
    assert entry.actor_id == admin_client.chief.pk
    assert entry.details["roles"] == [["employee"], ["dco", "employee"]]
    assert "profile.department" in entry.details["fields"]
    change = AuditEntry.objects.get(action="account.roles_change", object_id=str(target.pk))
    assert change.details == {
        "who": "chief",
        "whom": "bob",
        "before": ["employee"],
        "after": ["dco", "employee"],
        "door": "admin",
    }


@pytest.mark.django_db
def test_admin_and_dco_together_are_refused_with_a_clear_message(client, useradmin, make_user):
    """Mutation: SeparationOfDutiesForm.clean_groups removed (StaffUserAdmin.get_form) -> the
    admin's save hits the m2m guard instead of the form: a 500 page, no message -> this test fails."""
    target = make_user("dco", username="officer")
    client.force_login(useradmin)
    resp = client.post(
        f"/admin/auth/user/{target.pk}/change/", change_form(target, [group("dco"), group("admin")])
    )
    assert resp.status_code == 200
    assert "cannot be held by the same person" in resp.content.decode()
    target.refresh_from_db()
    assert user_roles(target) == {"dco"}
    assert not AuditEntry.objects.filter(action="account.roles_change").exists()


@pytest.mark.django_db
def test_no_code_path_combines_admin_and_dco(make_user):
    """Mutation: the m2m_changed guard (signals.refuse_exclusive_roles) disconnected -> the
    groups.add below succeeds -> this test fails."""
    from django.core.exceptions import ValidationError

    user = make_user("dco", username="both-ways")
    with pytest.raises(ValidationError, match="same person"), transaction.atomic():
        user.groups.add(group("admin"))
    with pytest.raises(ValidationError, match="same person"), transaction.atomic():
        group("admin").user_set.add(user)
    assert user_roles(User.objects.get(pk=user.pk)) == {"dco"}


@pytest.mark.django_db
def test_a_dco_sees_people_but_cannot_add_change_or_set_passwords(client, make_user):
    """A DCO (even one whose group was wrongly given change_user by someone) never administers
    people: no add page, no change, no password form, no new roles for the puppet.

    Mutation: is_user_administrator() removed from StaffUserAdmin.has_change_permission /
    has_add_permission -> with change_user/add_user on the dco group the POSTs succeed -> fails."""
    officer = make_user("dco", username="officer")
    puppet = make_user("employee", username="puppet")
    dco_group = group("dco")
    # A superuser's mistake: the model permissions alone would let the dco in.
    dco_group.permissions.add(
        *Permission.objects.filter(content_type__app_label="auth", codename__in=["add_user", "change_user"])
    )
    client.force_login(officer)
    assert client.get("/admin/auth/user/").status_code == 200  # the directory, read-only
    assert client.get("/admin/auth/user/add/").status_code == 403
    page = client.get(f"/admin/auth/user/{puppet.pk}/change/").content.decode()
    assert 'name="groups"' not in page  # view-only
    resp = client.post(f"/admin/auth/user/{puppet.pk}/change/", change_form(puppet, [dco_group]))
    assert resp.status_code == 403
    assert client.get(f"/admin/auth/user/{puppet.pk}/password/").status_code == 403
    resp = client.post(
        f"/admin/auth/user/{puppet.pk}/password/",
        {"password1": "puppet-pass-2026!", "password2": "puppet-pass-2026!", "usable_password": "true"},
    )
    assert resp.status_code == 403
    puppet.refresh_from_db()
    assert user_roles(puppet) == {"employee"} and not puppet.check_password("puppet-pass-2026!")


@pytest.mark.django_db
def test_the_dco_group_holds_no_user_administration_rights(make_user):
    """Mutation: add_user/change_user put back into signals.dco_permissions() -> fails."""
    from apps.accounts.signals import sync_role_group_permissions

    sync_role_group_permissions()
    dco_codes = set(
        group("dco").permissions.filter(content_type__app_label="auth").values_list("codename", flat=True)
    )
    assert dco_codes == {"view_user", "view_group"}
    admin_codes = set(group("admin").permissions.values_list("codename", flat=True))
    assert {"add_user", "change_user", "view_user", "change_staffprofile"} <= admin_codes
    assert "delete_user" not in admin_codes and not any(c.endswith("crisis") for c in admin_codes)


@pytest.mark.django_db
def test_a_user_administrator_adds_people_sets_roles_and_passwords(client, useradmin, make_user):
    from apps.accounts.signals import sync_role_group_permissions

    sync_role_group_permissions()
    useradmin.refresh_from_db()
    assert useradmin.is_staff  # the admin role opens the admin
    client.force_login(useradmin)
    resp = client.post(
        "/admin/auth/user/add/",
        {
            "username": "newbie",
            "password1": "Newbie-pass-2026!",
            "password2": "Newbie-pass-2026!",
            "usable_password": "true",
            **{
                f"{prefix}-{name}": value
                for prefix in ("staff_profile", "sso_identities")
                for name, value in (
                    ("TOTAL_FORMS", "0"),
                    ("INITIAL_FORMS", "0"),
                    ("MIN_NUM_FORMS", "0"),
                    ("MAX_NUM_FORMS", "1"),
                )
            },
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:1500]
    newbie = User.objects.get(username="newbie")
    assert AuditEntry.objects.filter(action="account.create", object_id=str(newbie.pk)).exists()
    # Roles, and the link to single sign-on (the inline of the user page), are theirs too.
    sso = {
        "sso_identities-TOTAL_FORMS": "1",
        "sso_identities-0-issuer": "https://sso.agency.example/realms/agency",
        "sso_identities-0-subject": "sub-newbie",
        "sso_identities-0-user": str(newbie.pk),
    }
    resp = client.post(f"/admin/auth/user/{newbie.pk}/change/", change_form(newbie, [group("dco")], **sso))
    assert resp.status_code == 302, re.findall(r"errorlist.*?</ul>", resp.content.decode(), re.S)
    assert user_roles(User.objects.get(pk=newbie.pk)) == {"dco"}
    resp = client.post(
        f"/admin/auth/user/{newbie.pk}/password/",
        {"password1": "Other-pass-2026!", "password2": "Other-pass-2026!", "usable_password": "true"},
    )
    assert resp.status_code == 302
    entry = AuditEntry.objects.filter(action="account.password_set", object_id=str(newbie.pk)).last()
    assert entry.details["who"] == "useradmin" and entry.details["whom"] == "newbie"
    assert entry.details["door"] == "admin"
    assert "Other-pass-2026!" not in str(entry.details) and "pbkdf2" not in str(entry.details).lower()
    assert newbie.sso_identities.get().subject == "sub-newbie"
    # Superuser status and individual permissions stay out of its reach.
    form = client.get(f"/admin/auth/user/{newbie.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in form and 'name="user_permissions"' not in form


@pytest.mark.django_db
def test_a_user_administrator_cannot_touch_a_superuser(client, useradmin, admin_client):
    """Mutation: the `obj.is_superuser and not request.user.is_superuser` test removed from
    has_change_permission -> the admin resets the superuser's password -> fails."""
    chief = admin_client.chief
    client.force_login(useradmin)
    resp = client.post(
        f"/admin/auth/user/{chief.pk}/password/",
        {"password1": "Taken-over-2026!", "password2": "Taken-over-2026!", "usable_password": "true"},
    )
    assert resp.status_code == 403
    chief.refresh_from_db()
    assert not chief.check_password("Taken-over-2026!")


@pytest.mark.django_db
def test_people_are_never_deleted_in_the_admin(admin_client, make_user):
    """Their records outlive them: deactivate instead (even a superuser has no delete)."""
    target = make_user("employee", username="gone")
    resp = admin_client.post(f"/admin/auth/user/{target.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 403
    assert User.objects.filter(pk=target.pk).exists()


@pytest.mark.django_db
def test_admin_user_list_filters_by_role(admin_client, make_user):
    make_user("auditor", username="aud1")
    make_user("employee", username="emp1")
    page = admin_client.get("/admin/auth/user/?role=auditor").content.decode()
    assert "aud1" in page and "emp1" not in page


@pytest.mark.django_db
def test_who_enters_the_admin(client, make_user):
    """dco and admin enter (staff follows those roles); employee, expert, auditor do not."""
    for role, enters in [
        ("dco", True),
        ("admin", True),
        ("employee", False),
        ("auditor", False),
        ("expert", False),
    ]:
        user = make_user(role, username=f"who-{role}")
        client.force_login(user)
        status = client.get("/admin/").status_code
        assert (status == 200) is enters, (role, status)
        client.logout()


@pytest.mark.django_db
def test_the_dco_role_opens_the_admin_without_superuser_powers(client, tmp_path):
    from django.core.management import call_command

    csv = tmp_path / "staff.csv"
    csv.write_text("email,name,department,language,roles\nchief@agency.example,Chief Officer,Com,fr,dco\n")
    call_command("import_staff", str(csv))
    chief = User.objects.get(username="chief@agency.example")
    assert chief.is_staff and not chief.is_superuser
    client.force_login(chief)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 200
    assert client.get("/admin/audit/auditentry/").status_code == 200
    form = client.get(f"/admin/auth/user/{chief.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in form and 'name="groups"' not in form

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
    user.groups.add(group("dco"))
    user.refresh_from_db()
    assert user.is_staff
    user.groups.clear()
    user.refresh_from_db()
    assert not user.is_staff
    user.groups.add(group("admin"))
    user.refresh_from_db()
    assert user.is_staff


@pytest.mark.django_db
def test_what_each_staff_role_sees_in_the_admin(client, make_user):
    """The dco sees the crisis apps and people (read-only: no "add user"); the user
    administrator sees people, not the crisis apps."""
    from apps.accounts.signals import sync_role_group_permissions

    sync_role_group_permissions()
    officer, useradmin = make_user("dco", username="officer"), make_user("admin", username="useradmin")
    client.force_login(officer)
    index = client.get("/admin/").content.decode()
    assert "/admin/crises/crisis/" in index and "/admin/auth/user/" in index
    assert "/admin/auth/user/add/" not in index
    client.force_login(useradmin)
    index = client.get("/admin/").content.decode()
    assert "/admin/auth/user/add/" in index
    assert (
        "/admin/crises/" not in index and "/admin/audit/" not in index and "/admin/statements/" not in index
    )
    assert client.get("/admin/crises/crisis/").status_code == 403
