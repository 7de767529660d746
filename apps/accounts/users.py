"""A user administrator's changes to people: create, update (fields, profile, roles), password;
and the audit item every door that changes roles writes the same way. The admin's user pages
call these; they write nothing themselves.

Separation of duties: people are administered by a superuser or an `admin`, never by a `dco` as
such, and no door gives one person both `admin` and `dco` (roles.EXCLUSIVE_ROLES)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import NotAllowedError, ServiceError
from apps.core.updates import model_update

from .models import StaffProfile
from .roles import ROLES, combines_exclusive_roles, exclusive_roles_message, is_user_administrator

User = get_user_model()


def roles_change_item(*, actor, user, before, after, door: str) -> dict:
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
        item = roles_change_item(actor=actor, user=user, before=before, after=after, door=door)
        audit_record(actor=actor, action=item["action"], obj=user, details=item["details"])


def check_roles_grant(*, actor, user, roles):
    """Refuse (403/400) a grant that a door must not make: not a user administrator, admin and
    dco together, or a superuser's account changed by someone who is not one."""
    if actor is not None:  # None: the system (a management command run by the operator)
        if not is_user_administrator(actor):
            raise NotAllowedError(_("Only a user administrator (admin role or superuser) may change roles."))
        if user.is_superuser and not actor.is_superuser:
            raise NotAllowedError(_("Only a superuser may change a superuser's account."))
    if combines_exclusive_roles(roles):
        raise ServiceError(exclusive_roles_message(), field="roles", code="exclusive_roles")


def _roles_apply(*, actor, user, roles) -> tuple[set[str], set[str]]:
    """Set the locked `user`'s role groups to exactly `roles`; → (before, after). Checks the grant."""
    roles = set(roles)
    unknown = roles - set(ROLES)
    if unknown:
        raise ServiceError(
            _("Unknown role(s): %(roles)s") % {"roles": ", ".join(sorted(unknown))}, field="roles"
        )
    check_roles_grant(actor=actor, user=user, roles=roles)
    before = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    remove, add = before - roles, roles - before
    # Removals first, so that swapping dco for admin never holds both for an instant.
    if remove:
        user.groups.remove(*Group.objects.filter(name__in=remove))
    if add:
        user.groups.add(*[Group.objects.get_or_create(name=name)[0] for name in sorted(add)])
    user.__dict__.pop("_crisiscomm_roles", None)
    return before, roles


@transaction.atomic
def user_roles_set(*, actor, user, roles, door: str = "api"):
    """Set a person's roles to exactly `roles` (names from roles.ROLES); audited as
    `account.roles_change` with before and after."""
    user = User.objects.select_for_update().get(pk=user.pk)
    before, after = _roles_apply(actor=actor, user=user, roles=roles)
    audit_roles_change(actor=actor, user=user, before=before, after=after, door=door)
    return user


# --------------------------------------------------------------------------- people

USER_FIELDS = ("username", "email", "first_name", "last_name", "is_active")
# Privileges beyond the roles: a superuser's to give, never a user administrator's.
SUPERUSER_FIELDS = ("is_staff", "is_superuser")
PROFILE_FIELDS = ("department", "language", "phone")


def require_user_administrator(*, actor, user=None) -> None:
    """Refuse (403) unless `actor` administers people (admin role or superuser); a superuser's
    account is a superuser's alone. `actor` None is the system: a management command (seed_demo),
    run by whoever operates the server."""
    if actor is None:
        return
    if not is_user_administrator(actor):
        raise NotAllowedError(_("Only a user administrator (admin role or superuser) may change people."))
    if user is not None and user.is_superuser and not actor.is_superuser:
        raise NotAllowedError(_("Only a superuser may change a superuser's account."))


def _validated(instance, *, exclude=()):
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as invalid:
        field, messages = next(iter(invalid.message_dict.items()))
        raise ServiceError(messages[0], field=None if field == "__all__" else field) from invalid
    return instance


def _profile_apply(user, data: dict) -> dict:
    """Create or change the user's StaffProfile with `data`; → {field: [before, after]}."""
    profile = StaffProfile.objects.select_for_update().filter(user=user).first()
    if profile is not None:
        return model_update(instance=profile, fields=PROFILE_FIELDS, data=data)[1]
    unknown = sorted(set(data) - set(PROFILE_FIELDS))
    if unknown:
        raise ServiceError(f"This field cannot be changed here: {unknown[0]}.", field=unknown[0])
    profile = StaffProfile(user=user)
    changes = {}
    for name, value in data.items():
        if getattr(profile, name) != value:
            changes[name] = [getattr(profile, name), value]
            setattr(profile, name, value)
    _validated(profile, exclude=["user"]).save()
    return changes


@transaction.atomic
def user_create(
    *,
    actor,
    username: str,
    password: str | None = None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    door: str = "admin",
):
    """A user administrator adds a person (no password: an unusable one; they sign in through
    SSO or a reset). Audited as `account.create`; the password as `account.password_set`
    (events.py, for every door)."""
    require_user_administrator(actor=actor)
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    user.set_password(password or None)
    _validated(user, exclude=["password"]).save()
    audit_record(
        actor=actor,
        action="account.create",
        obj=user,
        details={
            "fields": sorted(f for f in ("username", "email", "first_name", "last_name") if getattr(user, f)),
            "via": door,
            "password_changed": bool(password),
        },
    )
    return user


@transaction.atomic
def user_update(*, actor, user, data: dict, door: str = "admin"):
    """A user administrator changes a person. `data` holds any of USER_FIELDS, SUPERUSER_FIELDS
    and `user_permissions` (a superuser only), `profile` (a dict of PROFILE_FIELDS) and `roles`
    (the exact role names). One `account.update` entry names every changed field (and the roles
    before and after), plus `account.roles_change` when the roles changed."""
    user = User.objects.select_for_update().get(pk=user.pk)
    require_user_administrator(actor=actor, user=user)
    data = dict(data)
    roles = data.pop("roles", None)
    profile = data.pop("profile", None)
    permissions = data.pop("user_permissions", None)
    privileged = sorted(set(data) & set(SUPERUSER_FIELDS)) + (
        ["user_permissions"] if permissions is not None else []
    )
    if privileged and actor is not None and not actor.is_superuser:
        raise NotAllowedError(_("Only a superuser may change this."), field=privileged[0])
    _user, changes = model_update(instance=user, fields=USER_FIELDS + SUPERUSER_FIELDS, data=data)
    fields = sorted(changes)
    if profile:
        fields += sorted(f"profile.{name}" for name in _profile_apply(user, profile))
    if permissions is not None:
        before_perms = set(user.user_permissions.values_list("pk", flat=True))
        if before_perms != {p.pk for p in permissions}:
            user.user_permissions.set(permissions)
            fields.append("user_permissions")
    details = {"fields": fields, "via": door}
    before = after = None
    if roles is not None:
        before, after = _roles_apply(actor=actor, user=user, roles=roles)
        if before != after:
            details["roles"] = [sorted(before), sorted(after)]
    if fields or "roles" in details:
        audit_record(actor=actor, action="account.update", obj=user, details=details)
    if roles is not None:
        audit_roles_change(actor=actor, user=user, before=before, after=after, door=door)
    return user


@transaction.atomic
def user_password_set(*, actor, user, password: str | None):
    """A user administrator sets a person's password (None: no password sign-in). Audited as
    `account.password_set` (events.py, which also revokes the person's API tokens)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    require_user_administrator(actor=actor, user=user)
    user.set_password(password or None)
    user.save(update_fields=["password"])
    return user
