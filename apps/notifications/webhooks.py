"""Team chat webhooks (Mattermost, Slack, Teams), managed by a DCO. The URL is a secret: the
audit trail says that it changed, never what it is."""

from django.db import transaction

from apps.audit.services import audit_record
from apps.core import outbound
from apps.core.errors import ServiceError
from apps.core.roles import DCO, require_role
from apps.core.updates import model_update

from .models import TeamWebhook

WEBHOOK_FIELDS = ("name", "kind", "url", "department", "language", "is_active")


# The services' own refusal words: the admin and the API show them as they are.
MANAGE_MESSAGE = "Only a communication directorate officer (dco) may manage team webhooks."


def _webhook_details(hook, changed=None):
    # The URL is a secret: the trail says that it changed, never what it is.
    details = {"name": hook.name, "kind": hook.kind, "department": hook.department}
    if changed is not None:
        details["changed"] = sorted(changed)
    return details


@transaction.atomic
def team_webhook_create(*, actor, **fields) -> TeamWebhook:
    require_role(actor, DCO, message=MANAGE_MESSAGE)
    unknown = sorted(set(fields) - set(WEBHOOK_FIELDS))
    if unknown:  # refused, never dropped: the caller thinks it set it
        raise ServiceError(
            f"This field cannot be set here: {unknown[0]}.", field=unknown[0], code="not_editable"
        )
    hook = TeamWebhook(**fields)
    outbound.validate_url(hook.url, field="url")  # outbound: no loopback/private targets
    hook.full_clean()
    hook.save()
    audit_record(actor=actor, action="notification.webhook_create", obj=hook, details=_webhook_details(hook))
    return hook


@transaction.atomic
def team_webhook_update(*, actor, webhook: TeamWebhook, data: dict) -> TeamWebhook:
    """Change the fields `data` names (WEBHOOK_FIELDS only; another key is refused, naming it)."""
    require_role(actor, DCO, message=MANAGE_MESSAGE)
    if "url" in data and data["url"] != webhook.url:
        outbound.validate_url(data["url"], field="url")  # outbound: no loopback/private targets
    webhook, changes = model_update(instance=webhook, fields=WEBHOOK_FIELDS, data=data)
    if changes:
        audit_record(
            actor=actor,
            action="notification.webhook_update",
            obj=webhook,
            details=_webhook_details(webhook, changes),
        )
    return webhook


@transaction.atomic
def team_webhook_delete(*, actor, webhook: TeamWebhook) -> None:
    require_role(actor, DCO, message=MANAGE_MESSAGE)
    audit_record(
        actor=actor, action="notification.webhook_delete", obj=webhook, details=_webhook_details(webhook)
    )
    # Deliveries already recorded stay: deactivate rather than cascade the history away.
    webhook.is_active = False
    webhook.save(update_fields=["is_active"])
