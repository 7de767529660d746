"""Official accounts: where the publisher sends, and the secrets it sends with.

A target (`base_url`/`url`) is checked against the outbound rules; a new target needs its secret
given again (a stored token never follows an address it was not entered for)."""

from django.db import transaction
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core import outbound
from apps.core.errors import ConflictError, ServiceError
from apps.core.roles import DCO, require_role
from apps.core.updates import model_update

from .connectors import get_connector
from .models import Network, SocialAccount

# --- official accounts -------------------------------------------------------------------------


# outbound (issue 10): the config keys that name where a connector sends.
TARGET_KEYS = ("base_url", "url")


def _check_targets(config):
    if isinstance(config, dict):
        for key in TARGET_KEYS:
            if config.get(key):
                outbound.validate_url(str(config[key]), field=f"config.{key}")


def _require_secrets_for_new_target(account, given, connector):
    """A new target (or connector) needs its secret given again: the stored token is never sent
    to an address it was not entered for (a hijacked account cannot redirect it to its server)."""
    moved = [
        k
        for k in TARGET_KEYS
        if k in given and str(given[k]).rstrip("/") != str(account.config.get(k, "")).rstrip("/")
    ]
    if connector != account.connector:
        moved.insert(0, "connector")
    if not moved:
        return
    for key in get_connector(connector).secret_keys:
        if not str(given.get(key) or "").strip():
            raise ServiceError(
                _("Changing %(target)s needs %(secret)s again.") % {"target": moved[0], "secret": key},
                field=f"config.{key}",
                code="secret_required",
            )


@transaction.atomic
def social_account_create(*, actor, network, handle, connector, config=None, is_active=True) -> SocialAccount:
    require_role(actor, DCO)
    if network not in Network.values:
        raise ServiceError(_("Unknown network."), field="network")
    handle = (handle or "").strip()
    if not handle:
        raise ServiceError(_("A handle is required."), field="handle")
    _check_targets(config)  # outbound: loopback/private targets refused, naming config.<key>
    config = get_connector(connector).clean_config(config or {}, network=network)
    if SocialAccount.objects.filter(network=network, handle=handle).exists():
        raise ConflictError(_("This account already exists."), field="handle")
    account = SocialAccount.objects.create(
        network=network, handle=handle, connector=connector, config=config, is_active=is_active
    )
    audit_record(
        actor=actor,
        action="account.create",
        obj=account,
        details={"network": network, "handle": handle, "connector": connector},
    )
    return account


# What an account edit may change (social_account_update).
EDITABLE_FIELDS = ("handle", "connector", "config", "is_active")


@transaction.atomic
def social_account_update(*, actor, account, data: dict) -> SocialAccount:
    """Change handle, connector, config or is_active (`data`: the fields to change; any other
    key is refused naming it). A config given without its secrets keeps the stored ones
    (secrets are write-only)."""
    require_role(actor, DCO)
    account = SocialAccount.objects.select_for_update().get(pk=account.pk)
    changes = dict(data)
    connector = changes.get("connector", account.connector)
    if "config" in changes or "connector" in changes:
        given = changes.get("config", account.config) or {}
        _check_targets(given)  # outbound: loopback/private targets refused, naming config.<key>
        if isinstance(given, dict):
            _require_secrets_for_new_target(account, given, connector)
        if connector == account.connector and isinstance(given, dict):
            for key in get_connector(connector).secret_keys:
                given.setdefault(key, account.config.get(key))
        changes["config"] = get_connector(connector).clean_config(given, network=account.network)
    if "handle" in changes:
        changes["handle"] = (changes["handle"] or "").strip()
        if not changes["handle"]:
            raise ServiceError(_("A handle is required."), field="handle")
    # Validated above (the connector cleans its config); the audit names the fields, never values.
    account, changed = model_update(instance=account, fields=EDITABLE_FIELDS, data=changes, clean=False)
    audit_record(
        actor=actor,
        action="account.update",
        obj=account,
        details={"fields": sorted(changed), "connector": account.connector, "is_active": account.is_active},
    )
    return account
