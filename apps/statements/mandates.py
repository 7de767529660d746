"""Spokesperson mandates: who may speak for which crisis, on which networks."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError, NotAllowedError, ServiceError
from apps.core.roles import DCO, require_role
from apps.posts.models import Network

from .models import (
    Mandate,
)
from .selectors import mandates_covering


def _clean_list(values, *, field, allowed=None) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise ServiceError(_("Give a list."), field=field)
    out = []
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise ServiceError(_("Each item must be a non-empty text."), field=field)
        v = v.strip()
        if allowed is not None and v.lower() not in allowed:
            raise ServiceError(_("Unknown network: %(n)s.") % {"n": v}, field=field)
        if v.lower() not in {o.lower() for o in out}:
            out.append(v.lower() if allowed is not None else v)
    return out


@transaction.atomic
def mandate_grant(*, actor, user, topics=(), networks=(), valid_from=None, valid_until) -> Mandate:
    mandate_check_grant(actor=actor)
    if not user.is_active:
        raise ServiceError(_("This person's account is not active."), field="user")
    topics = _clean_list(list(topics), field="topics")
    networks = _clean_list(list(networks), field="networks", allowed=set(Network.values))
    valid_from = valid_from or timezone.now()
    if valid_until <= valid_from:
        raise ServiceError(_("The end of validity must come after its start."), field="valid_until")
    if valid_until <= timezone.now():
        raise ServiceError(_("The end of validity is already past."), field="valid_until")
    mandate = Mandate.objects.create(
        user=user,
        topics=topics,
        networks=networks,
        valid_from=valid_from,
        valid_until=valid_until,
        granted_by=actor,
    )
    audit_record(
        actor=actor,
        action="mandate.grant",
        obj=mandate,
        details={
            "user": user.pk,
            "username": user.get_username(),
            "topics": topics,
            "networks": networks,
            "valid_from": valid_from,
            "valid_until": valid_until,
        },
    )
    return mandate


@transaction.atomic
def mandate_check_revoke(*, actor, mandate: Mandate) -> None:
    """Who may revoke a mandate, and when (403/409). The page asks the same (actions.py)."""
    require_role(actor, DCO, message=_("Only a communication directorate officer (dco) revokes mandates."))
    if mandate.revoked_at is not None:
        raise ConflictError(_("This mandate is already revoked."))


def mandate_check_grant(*, actor) -> None:
    require_role(actor, DCO, message=_("Only a communication directorate officer (dco) grants mandates."))


def mandate_revoke(*, actor, mandate: Mandate, reason: str = "") -> Mandate:
    mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
    mandate_check_revoke(actor=actor, mandate=mandate)
    mandate.revoked_at = timezone.now()
    mandate.revoked_by = actor
    mandate.revoke_reason = reason or ""
    mandate.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    audit_record(
        actor=actor,
        action="mandate.revoke",
        obj=mandate,
        details={"user": mandate.user_id, "reason": mandate.revoke_reason},
    )
    return mandate


def _require_mandate(*, actor, crisis, accounts) -> list[Mandate]:
    """403 unless the actor holds an active mandate covering the crisis and every account's
    network (checked now: expiry and revocation need no job)."""
    mandates = mandates_covering(user=actor, crisis=crisis)
    if not mandates:
        raise NotAllowedError(
            _("You need an active spokesperson mandate covering this crisis."), code="no_mandate"
        )
    allowed: set[str] | None = set()
    for m in mandates:
        nets = m.allowed_networks()
        if nets is None:
            allowed = None
            break
        allowed |= nets
    if allowed is not None:
        outside = sorted({a.network for a in accounts if a.network not in allowed})
        if outside:
            raise NotAllowedError(
                _("Your mandate does not cover these networks: %(n)s.") % {"n": ", ".join(outside)},
                field="accounts",
                code="no_mandate",
            )
    return mandates
