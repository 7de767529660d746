"""State changes of the staff directory, one module per concept, re-exported here for callers:

- users.py: a user administrator's changes to people (roles; the admin's create/update/password);
- staff_import.py: the CSV import of the directory;
- sso.py: the single sign-on link and sync.

Each writes its audit entries in its own transaction. Separation of duties: people are
administered by a superuser or an `admin`, never by a `dco` as such, and no door gives one person
both `admin` and `dco` (roles.EXCLUSIVE_ROLES). Role groups are the names in `roles.ROLES`;
everything else about a person is the user row and its StaffProfile.
"""

from .sso import (
    SSORefused,
    roles_from_idp_groups,
    sso_identity_link,
    sso_identity_unlink,
    sso_login,
    sso_managed_roles,
    user_sync_from_sso,
)
from .staff_import import StaffImportError, StaffImportResult, StaffRow, staff_import
from .users import (
    PROFILE_FIELDS,
    audit_roles_change,
    check_roles_grant,
    require_user_administrator,
    user_create,
    user_password_set,
    user_roles_set,
    user_update,
)

__all__ = [
    "PROFILE_FIELDS",
    "SSORefused",
    "StaffImportError",
    "StaffImportResult",
    "StaffRow",
    "audit_roles_change",
    "check_roles_grant",
    "require_user_administrator",
    "roles_from_idp_groups",
    "sso_identity_link",
    "sso_identity_unlink",
    "sso_login",
    "sso_managed_roles",
    "staff_import",
    "user_create",
    "user_password_set",
    "user_roles_set",
    "user_sync_from_sso",
    "user_update",
]
