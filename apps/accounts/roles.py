"""The roles are Django groups; a user's rights come from their groups (and mandates)."""

from django.utils.translation import gettext_lazy as _

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

# Separation of duties: whoever runs crises (and approves a colleague's lift) must not also be
# able to create colleagues or hand out roles, or one person could approve their own lift
# through a puppet account.
EXCLUSIVE_ROLES = frozenset({ADMIN, DCO})


def exclusive_roles_message():
    return _(
        "The roles admin and dco cannot be held by the same person (separation of duties): "
        "remove one before granting the other."
    )


def combines_exclusive_roles(roles) -> bool:
    return set(roles) >= EXCLUSIVE_ROLES


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


def is_user_administrator(user) -> bool:
    """Creating people, changing their roles, rights, status and passwords: a superuser or an
    `admin`, never a `dco` as such."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or has_role(user, ADMIN)
