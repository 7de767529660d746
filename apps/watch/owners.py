"""The owners' notice: at a declaration each owner of a registered account is told, by name,
that their accounts stay silent until the freeze ends."""

import logging

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from apps.audit.services import audit_record
from apps.crises.models import Crisis
from apps.notifications.services import notify_users

from .models import CrisisWatch, Registration, WatchedAccount

log = logging.getLogger(__name__)


def _owner_accounts(owner_ids=None) -> dict[int, list[WatchedAccount]]:
    accounts = (
        WatchedAccount.objects.filter(registration=Registration.ACCEPTED, active=True)
        .prefetch_related("owners")
        .order_by("url")
    )
    by_owner: dict[int, list[WatchedAccount]] = {}
    for account in accounts:
        for owner in account.owners.all():
            if owner.is_active:
                by_owner.setdefault(owner.pk, []).append(account)
    return by_owner


def render_both(*, template: str, context: dict) -> dict:
    """{language: {subject, message}} rendered from templates/watch/notices/<lang>/<template>."""
    out = {}
    for language in ("fr", "en"):
        with translation.override(language):
            subject = render_to_string(f"watch/notices/{language}/{template}_subject.txt", context)
            message = render_to_string(f"watch/notices/{language}/{template}.txt", context)
        out[language] = {"subject": " ".join(subject.split()), "message": message.strip()}
    return out


@transaction.atomic
def owners_tell(*, crisis: Crisis) -> CrisisWatch | None:
    """Tell each owner of a registered account, by name, that their accounts stay silent until
    the freeze ends: one notice per owner listing their accounts (acknowledged like the others,
    counted in the crisis's figures). Once per crisis: the CrisisWatch row is the record."""
    crisis = Crisis.objects.select_for_update().get(pk=crisis.pk)
    existing = CrisisWatch.objects.filter(crisis=crisis).first()
    if existing is not None or not crisis.is_open:
        return existing
    by_owner = _owner_accounts()
    for owner_id, accounts in by_owner.items():
        listed = [
            {"url": a.url, "network": a.get_network_display(), "watchable": a.watchable} for a in accounts
        ]
        context = {
            "title": crisis.title,
            "declared_at": crisis.declared_at.isoformat(),
            "freeze_until": crisis.freeze_until.isoformat(),
            "accounts": listed,
        }
        render_ctx = {**context, "freeze_until": timezone.localtime(crisis.freeze_until), "accounts": listed}
        context["localized"] = render_both(template="owners_told", context=render_ctx)
        notify_users(event="watch.owners_told", user_ids=[owner_id], context=context, crisis_id=crisis.pk)
    record = CrisisWatch.objects.create(
        crisis=crisis,
        owners_told_at=timezone.now(),
        owners=len(by_owner),
        accounts=len({a.pk for accounts in by_owner.values() for a in accounts}),
    )
    audit_record(
        actor=None,
        action="watch.owners_told",
        obj=crisis,
        details={"owners": record.owners, "accounts": record.accounts},
    )
    return record


OWNERS_TOLD_AFTER = "crisis.declared"


def on_notice_event_saved(*, sender, instance, created, **kwargs):
    """post_save of the notifications outbox: right after the declaration's own notice row, tell
    the owners in the declaration's transaction (recorded with it, Redis or not; counted with
    its figures, which take targeted events recorded after it). A failure here must never stop
    a declaration: it is logged, and the next sweep tells them."""
    if not created or instance.event != OWNERS_TOLD_AFTER or instance.parent_id or not instance.crisis_id:
        return
    try:
        with transaction.atomic():  # a savepoint inside the declaration
            crisis = Crisis.objects.filter(pk=instance.crisis_id).first()
            if crisis is not None:
                owners_tell(crisis=crisis)
    except Exception:
        log.exception(
            "Could not tell the account owners of crisis %s; the next sweep will", instance.crisis_id
        )
