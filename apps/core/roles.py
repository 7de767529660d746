"""Roles and the one rights check every service uses.

The roles are Django groups (created by accounts' data migration); the names live here, below
every app, so that any service can ask `require_role(actor, DCO)` without importing accounts.
"""

from django.utils.translation import gettext_lazy as _

from .errors import NotAllowedError

DCO = "dco"
ADMIN = "admin"
SPOKESPERSON = "spokesperson"
EXPERT = "expert"
EMPLOYEE = "employee"
AUDITOR = "auditor"

ROLES = {
    DCO: _("Communication directorate officer"),
    ADMIN: _("User administrator"),
    SPOKESPERSON: _("Spokesperson"),
    EXPERT: _("Thematic expert"),
    EMPLOYEE: _("Employee"),
    AUDITOR: _("Auditor"),
}


def user_roles(user) -> set[str]:
    """The role names a user holds, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    cached = getattr(user, "_crisiscomm_roles", None)
    if cached is None:
        # .all() uses a prefetch_related("groups") cache when the caller made one.
        cached = {g.name for g in user.groups.all()} & set(ROLES)
        user._crisiscomm_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def require_role(actor, *roles: str, message=None) -> None:
    """Refuse (403) unless `actor` holds one of `roles`. A deactivated or anonymous actor holds
    none. The message names the roles, unless the caller says what the action was."""
    if has_role(actor, *roles):
        return
    if message is None:
        names = ", ".join(roles)
        message = _("Only these roles may do this: %(roles)s.") % {"roles": names}
        if roles == (DCO,):
            message = _("Only a communication directorate officer (dco) may do this.")
    raise NotAllowedError(message)
