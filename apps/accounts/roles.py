"""The roles are Django groups; a user's rights come from their groups (and mandates)."""

from django.utils.translation import gettext_lazy as _

DCO = "dco"
SPOKESPERSON = "spokesperson"
EXPERT = "expert"
EMPLOYEE = "employee"
AUDITOR = "auditor"

ROLES = {
    DCO: _("Communication directorate officer"),
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
