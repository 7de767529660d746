"""Single sign-on: the account a verified OpenID Connect sign-on stands for, linked and synced,
with the roles the identity provider's groups map to."""

from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ServiceError

from .models import SSOIdentity, StaffProfile
from .roles import ADMIN, DCO, ROLE_SEPARATORS, ROLES, combines_exclusive_roles, exclusive_roles_message
from .users import audit_roles_change, require_user_administrator

User = get_user_model()


def roles_from_idp_groups(*, idp_groups, group_role_map: Mapping[str, str]) -> set[str]:
    """The roles granted by the identity provider's groups.

    A map value may name several roles ("dco;auditor"). Keycloak sends full group paths
    ("/crisis/dco"): a group matches with or without its leading slash.
    """
    if isinstance(idp_groups, str):
        idp_groups = [idp_groups]
    granted = set()
    for group in idp_groups or []:
        group = str(group)
        target = group_role_map.get(group) or group_role_map.get(group.lstrip("/"))
        if target:
            granted |= {r.strip().lower() for r in ROLE_SEPARATORS.split(target) if r.strip()}
    return granted & set(ROLES)


def sso_managed_roles(*, group_role_map: Mapping[str, str]) -> set[str]:
    """The roles the identity provider decides: any role a mapped group can grant."""
    return roles_from_idp_groups(idp_groups=list(group_role_map), group_role_map=group_role_map)


class SSORefused(ServiceError):
    """Single sign-on refused for this identity; the message says why (shown on the login page)."""

    def __init__(self, message, *, field=None, code="sso_refused"):
        super().__init__(message, field=field, code=code)


def _claim_true(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


@transaction.atomic
def sso_login(*, claims: Mapping, issuer: str, idp_groups, group_role_map: Mapping[str, str]):
    """The account a verified single sign-on stands for, linked and synced.

    The provider's `iss` + `sub` are linked to one account at the first sign-on; later sign-ons
    match on that link only. Without a link, an existing account with the same email is linked
    only when the provider vouches for the email (`email_verified`), and never when it is a
    superuser's or holds `admin` or `dco` (a user administrator links those in the admin);
    with no such account, one is created. Refusals raise SSORefused."""
    issuer = str(claims.get("iss") or issuer or "").rstrip("/")
    subject = str(claims.get("sub") or "")
    if not issuer or not subject:
        raise SSORefused(_("The identity provider sent no subject."), field="sub")
    link = SSOIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    if link is not None:
        if not link.user.is_active:
            raise SSORefused(_("This account is deactivated."))
        return user_sync_from_sso(
            claims=claims, idp_groups=idp_groups, group_role_map=group_role_map, user=link.user
        )

    email = str(claims.get("email") or "").strip().lower()
    if not email:
        raise SSORefused(_("The identity provider sent no email."), field="email")
    candidates = list(User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email))[:2])
    if len(candidates) > 1:
        raise SSORefused(_("Several accounts have this email; a user administrator must link yours."))
    if candidates:
        user = candidates[0]
        if not _claim_true(claims.get("email_verified")):
            raise SSORefused(
                _("An account with this email exists, but the identity provider has not verified the email."),
                field="email_verified",
            )
        if user.is_superuser or user.groups.filter(name__in=[ADMIN, DCO]).exists():
            raise SSORefused(
                _(
                    "This account holds administrative rights: "
                    "a user administrator must link it to single sign-on."
                )
            )
        if not user.is_active:
            raise SSORefused(_("This account is deactivated."))
        if SSOIdentity.objects.filter(user=user).exists():
            raise SSORefused(_("This account is already linked to another single sign-on identity."))
        SSOIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        return user_sync_from_sso(
            claims=claims, idp_groups=idp_groups, group_role_map=group_role_map, user=user, linked="email"
        )
    user = user_sync_from_sso(claims=claims, idp_groups=idp_groups, group_role_map=group_role_map)
    SSOIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    return user


@transaction.atomic
def user_sync_from_sso(
    *, claims: Mapping, idp_groups, group_role_map: Mapping[str, str], user=None, linked: str = ""
):
    """Create or update a user from verified OpenID Connect claims, and set the mapped roles.

    Roles that some mapped group can grant are added or removed to match the groups sent at
    this login; roles no mapping mentions (given in the admin or by import) are left alone; a
    mapping that would leave one person with both `admin` and `dco` refuses the sign-on.
    Audited as `account.sso_login` (actor: the user), with what changed, and
    `account.roles_change` when the roles changed.
    """
    email = str(claims.get("email") or "").strip().lower()
    if not email:
        raise SSORefused(_("The identity provider sent no email."), field="email")
    first = str(claims.get("given_name") or "")[:150]
    last = str(claims.get("family_name") or "")[:150]
    created = False
    changes = {}
    if user is None:
        user = User(username=email, email=email, first_name=first, last_name=last)
        if User.objects.filter(username=email).exists():
            # The username is taken by an account with another email: fall back to the IdP's own.
            user.username = str(claims.get("preferred_username") or claims.get("sub"))[:150]
        user.set_unusable_password()
        user.save()
        StaffProfile.objects.get_or_create(user=user)
        created = True
    else:
        user = User.objects.select_for_update().get(pk=user.pk)
        for attr, value in (("email", email), ("first_name", first), ("last_name", last)):
            # An IdP that omits a name claim does not blank what the directory knows.
            if value and getattr(user, attr) != value:
                changes[attr] = [getattr(user, attr), value]
                setattr(user, attr, value)
        if changes:
            user.save(update_fields=list(changes))

    wanted = roles_from_idp_groups(idp_groups=idp_groups, group_role_map=group_role_map)
    managed = sso_managed_roles(group_role_map=group_role_map)
    held = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    add, remove = (wanted - held), (held & managed) - wanted
    after = (held - remove) | add
    if combines_exclusive_roles(after):
        raise SSORefused(exclusive_roles_message(), field="roles", code="exclusive_roles")
    if remove:
        user.groups.remove(*Group.objects.filter(name__in=remove))
    if add:
        user.groups.add(*Group.objects.filter(name__in=add))
    user.__dict__.pop("_crisiscomm_roles", None)  # roles.user_roles caches on the instance
    audit_record(
        actor=user,
        action="account.sso_login",
        obj=user,
        details={
            "created": created,
            "linked": linked or ("new" if created else ""),
            "sub": str(claims.get("sub") or ""),
            "preferred_username": str(claims.get("preferred_username") or ""),
            "idp_groups": sorted(str(g) for g in (idp_groups or [])),
            "roles_added": sorted(add),
            "roles_removed": sorted(remove),
            "changes": changes,
        },
    )
    audit_roles_change(actor=user, user=user, before=held, after=after, door="sso")
    return user


# --------------------------------------------------------------------------- links made by hand


def _identity_details(identity) -> dict:
    return {"whom": identity.user.get_username(), "issuer": identity.issuer, "subject": identity.subject}


@transaction.atomic
def sso_identity_link(*, actor, user, issuer: str, subject: str) -> SSOIdentity:
    """A user administrator links an account to a single sign-on identity (the only way for an
    administrative account, which sso_login never links by email). Audited `account.sso_link`."""
    user = User.objects.select_for_update().get(pk=user.pk)
    require_user_administrator(actor=actor, user=user)
    identity = SSOIdentity(user=user, issuer=(issuer or "").rstrip("/"), subject=subject or "")
    try:
        identity.full_clean()
    except ValidationError as invalid:
        field, messages = next(iter(invalid.message_dict.items()))
        raise ServiceError(messages[0], field=None if field == "__all__" else field) from invalid
    identity.save()
    audit_record(actor=actor, action="account.sso_link", obj=user, details=_identity_details(identity))
    return identity


@transaction.atomic
def sso_identity_unlink(*, actor, identity: SSOIdentity) -> None:
    """Audited `account.sso_unlink`: the next sign-on with that identity no longer finds the account."""
    identity = SSOIdentity.objects.select_for_update().select_related("user").get(pk=identity.pk)
    require_user_administrator(actor=actor, user=identity.user)
    audit_record(
        actor=actor, action="account.sso_unlink", obj=identity.user, details=_identity_details(identity)
    )
    identity.delete()
