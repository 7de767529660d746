"""People are changed through the accounts services (users.py, sso.py), which the admin's user
pages call: rights checked there, whatever the door, and every change audited."""

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from apps.accounts.roles import user_roles
from apps.accounts.services import (
    sso_identity_link,
    sso_identity_unlink,
    user_create,
    user_password_set,
    user_update,
)
from apps.audit.models import AuditEntry
from apps.core.errors import NotAllowedError, ServiceError

User = get_user_model()


@pytest.fixture
def useradmin(make_user):
    return make_user("admin", username="useradmin")


@pytest.mark.django_db
def test_a_dco_changes_nobody_through_the_services(dco, make_user):
    """Mutation: require_user_administrator removed from user_update -> the dco renames the
    puppet -> this test fails."""
    puppet = make_user("employee", username="puppet")
    with pytest.raises(NotAllowedError), transaction.atomic():
        user_update(actor=dco, user=puppet, data={"first_name": "Renamed"})
    with pytest.raises(NotAllowedError), transaction.atomic():
        user_update(actor=dco, user=puppet, data={"roles": ["auditor"]})
    with pytest.raises(NotAllowedError), transaction.atomic():
        user_create(actor=dco, username="ghost")
    with pytest.raises(NotAllowedError), transaction.atomic():
        user_password_set(actor=dco, user=puppet, password="Puppet-pass-2026!")
    puppet.refresh_from_db()
    assert puppet.first_name != "Renamed" and user_roles(puppet) == {"employee"}
    assert not User.objects.filter(username="ghost").exists()
    assert not puppet.check_password("Puppet-pass-2026!")


@pytest.mark.django_db
def test_a_user_administrator_grants_no_superuser_status(useradmin, make_user):
    """Mutation: the SUPERUSER_FIELDS check removed from user_update -> the user administrator
    makes a colleague superuser -> this test fails."""
    colleague = make_user("employee", username="colleague")
    with pytest.raises(NotAllowedError), transaction.atomic():
        user_update(actor=useradmin, user=colleague, data={"is_superuser": True})
    colleague.refresh_from_db()
    assert not colleague.is_superuser


@pytest.mark.django_db
def test_one_update_entry_names_fields_profile_and_roles(useradmin, make_user):
    person = make_user("employee", username="person")
    with transaction.atomic():
        user_update(
            actor=useradmin,
            user=person,
            data={"last_name": "Curie", "profile": {"department": "Physics"}, "roles": ["expert"]},
        )
    entry = AuditEntry.objects.get(action="account.update", object_id=str(person.pk))
    assert entry.details == {
        "fields": ["last_name", "profile.department"],
        "via": "admin",
        "roles": [["employee"], ["expert"]],
    }
    assert AuditEntry.objects.filter(action="account.roles_change", object_id=str(person.pk)).exists()
    with pytest.raises(ServiceError) as refused, transaction.atomic():
        user_update(actor=useradmin, user=person, data={"date_joined": None})
    assert refused.value.field == "date_joined"


@pytest.mark.django_db
def test_sso_links_made_and_undone_by_hand_are_audited(useradmin, make_user):
    """Mutation: audit_record removed from sso_identity_link -> no account.sso_link entry ->
    this test fails."""
    person = make_user("dco", username="officer")
    with transaction.atomic():
        identity = sso_identity_link(
            actor=useradmin, user=person, issuer="https://sso.example/", subject="s-1"
        )
    with transaction.atomic():
        sso_identity_unlink(actor=useradmin, identity=identity)
    assert not person.sso_identities.exists()
    entries = AuditEntry.objects.filter(object_id=str(person.pk), action__startswith="account.sso_")
    assert [(e.action, e.details["issuer"], e.details["subject"]) for e in entries] == [
        ("account.sso_link", "https://sso.example", "s-1"),
        ("account.sso_unlink", "https://sso.example", "s-1"),
    ]
