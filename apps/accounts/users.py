"""A user administrator's changes to people: their roles (and the audit item every door that
changes roles writes the same way).

Separation of duties: people are administered by a superuser or an `admin`, never by a `dco` as
such, and no door gives one person both `admin` and `dco` (roles.EXCLUSIVE_ROLES)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import NotAllowedError, ServiceError

from .roles import ROLES, combines_exclusive_roles, exclusive_roles_message, is_user_administrator

User = get_user_model()


def _roles_change_item(actor, user, before, after, *, door: str) -> dict:
    """The audit item of a change of someone's roles (for audit_record_many)."""
    who = actor.get_username() if actor is not None and actor.is_authenticated else "system"
    return {
        "action": "account.roles_change",
        "obj": user,
        "details": {
            "who": who,
            "whom": user.get_username(),
            "before": sorted(before),
            "after": sorted(after),
            "door": door,
        },
    }


def audit_roles_change(*, actor, user, before, after, door: str):
    if set(before) != set(after):
        item = _roles_change_item(actor, user, before, after, door=door)
        audit_record(actor=actor, action=item["action"], obj=user, details=item["details"])


def check_roles_grant(*, actor, user, roles):
    """Refuse (403/400) a grant that a door must not make: not a user administrator, admin and
    dco together, or a superuser's account changed by someone who is not one."""
    if not is_user_administrator(actor):
        raise NotAllowedError(_("Only a user administrator (admin role or superuser) may change roles."))
    if user.is_superuser and not actor.is_superuser:
        raise NotAllowedError(_("Only a superuser may change a superuser's account."))
    if combines_exclusive_roles(roles):
        raise ServiceError(exclusive_roles_message(), field="roles", code="exclusive_roles")


@transaction.atomic
def user_roles_set(*, actor, user, roles, door: str = "api"):
    """Set a person's roles to exactly `roles` (names from roles.ROLES); audited as
    `account.roles_change` with before and after."""
    roles = set(roles)
    unknown = roles - set(ROLES)
    if unknown:
        raise ServiceError(
            _("Unknown role(s): %(roles)s") % {"roles": ", ".join(sorted(unknown))}, field="roles"
        )
    user = User.objects.select_for_update().get(pk=user.pk)
    check_roles_grant(actor=actor, user=user, roles=roles)
    before = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    remove, add = before - roles, roles - before
    # Removals first, so that swapping dco for admin never holds both for an instant.
    if remove:
        user.groups.remove(*Group.objects.filter(name__in=remove))
    if add:
        user.groups.add(*[Group.objects.get_or_create(name=name)[0] for name in sorted(add)])
    user.__dict__.pop("_crisiscomm_roles", None)
    audit_roles_change(actor=actor, user=user, before=before, after=roles, door=door)
    return user
