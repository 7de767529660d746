"""The roles are Django groups; a user's rights come from their groups (and mandates)."""

import re

from django.utils.translation import gettext_lazy as _

# The role names and the rights check live below every app (apps.core.roles); re-exported here
# for the accounts code and the callers that import them from accounts.
from apps.core.roles import (  # noqa: F401
    ADMIN,
    AUDITOR,
    DCO,
    EMPLOYEE,
    EXPERT,
    ROLES,
    SPOKESPERSON,
    has_role,
    require_role,
    user_roles,
)

# How a directory export or an identity provider's map separates several roles in one cell.
ROLE_SEPARATORS = re.compile(r"[;|]")

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


def is_user_administrator(user) -> bool:
    """Creating people, changing their roles, rights, status and passwords: a superuser or an
    `admin`, never a `dco` as such."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or has_role(user, ADMIN)
