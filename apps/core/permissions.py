"""DRF permission classes every app's API uses: rights follow the role (apps.core.roles).

They live in core, below every app, so that an app low in the house (audit) can guard its API
without importing accounts."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import DCO, has_role


def role_permission(*roles: str, read_roles: tuple[str, ...] | None = None):
    """A permission class letting in authenticated users holding one of `roles`.

    With `read_roles`, safe methods (GET, HEAD, OPTIONS) are also open to those roles.
    """

    class HasRole(BasePermission):
        message = "This action needs one of these roles: " + ", ".join(roles) + "."

        def has_permission(self, request, view):
            user = request.user
            if not (user and user.is_authenticated):
                return False
            if read_roles is not None and request.method in SAFE_METHODS:
                return has_role(user, *roles, *read_roles)
            return has_role(user, *roles)

    HasRole.__name__ = "HasRole_" + "_".join(roles)
    return HasRole


IsDCO = role_permission(DCO)


class DCOWritesOthersRead(BasePermission):
    """Any authenticated user reads; only the DCO changes."""

    message = "Only a communication directorate officer (dco) may change this."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or has_role(user, DCO)
