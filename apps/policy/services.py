"""Every change to the rules and the embargo registry: DCO only, validated, audited in the same
transaction, and followed by a bump of the rules version (the post_save/post_delete signals in
apps.py do the bump, so changes made outside these services are not missed either)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ServiceError
from apps.core.roles import DCO, has_role, require_role
from apps.core.updates import model_update

from .models import AccountKind, Embargo, PolicyRule, Ruling, RulingSource, Verdict

RULE_FIELDS = (
    "code",
    "kind",
    "patterns",
    "severity",
    "message_fr",
    "message_en",
    "guide",
    "enabled",
    "networks",
    "account_kind",
    "condition",
    "on_photo",
    "quote_match",
    "suppresses",
    "passage_fr",
    "passage_en",
    "advice_fr",
    "advice_en",
)
EMBARGO_FIELDS = ("topic", "terms", "until", "note")


# What a user may do with the policy: the same verbs as the audit trail. The admin, the API and the
# pages ask policy_allowed_actions; each service checks the same rule (_require_dco).
POLICY_ACTIONS = frozenset(
    {
        "policy.rule_create",
        "policy.rule_update",
        "policy.rule_delete",
        "policy.embargo_create",
        "policy.embargo_update",
        "policy.embargo_delete",
        "policy.ruling_record",
        "policy.ruling_delete",
    }
)


def policy_allowed_actions(*, user) -> frozenset[str]:
    """The policy actions `user` may take: all of them for a DCO, none for anyone else."""
    return POLICY_ACTIONS if has_role(user, DCO) else frozenset()


def _require_dco(actor):
    require_role(
        actor, DCO, message=_("Only a communication directorate officer (dco) may change the policy.")
    )


def _validate(instance, *, exclude=()):
    """Model validation as a ServiceError naming the first bad field."""
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        field = None if field == "__all__" else field
        raise ServiceError(f"{field}: {messages[0]}" if field else messages[0], field=field) from exc


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _terms_text(terms) -> str:
    if isinstance(terms, str):
        return terms
    return "\n".join(str(t).strip() for t in terms if str(t).strip())


# --- Rules ------------------------------------------------------------------------------------------


@transaction.atomic
def policy_rule_create(*, actor, **fields) -> PolicyRule:
    _require_dco(actor)
    return _rule_create(actor=actor, fields=fields)


def _rule_create(*, actor, fields: dict) -> PolicyRule:
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise ServiceError(_("Unknown field."), field=sorted(unknown)[0])
    if "patterns" in fields:
        fields["patterns"] = _terms_text(fields["patterns"])
    rule = PolicyRule(**fields)
    _validate(rule)
    rule.save()
    audit_record(
        actor=actor,
        action="policy.rule_create",
        obj=rule,
        details={"code": rule.code, **{f: _jsonable(getattr(rule, f)) for f in RULE_FIELDS if f != "code"}},
    )
    return rule


@transaction.atomic
def policy_rules_seed(*, actor=None) -> int:
    """Create the staff guide's rules that are missing (by code), each audited as
    `policy.rule_create`; existing rules are never touched. → how many were created. `actor` None
    is the system (`manage.py policy_seed_rules`); otherwise a DCO. (The data migrations seed
    with guide.seed_rules on historical models, before there is a trail to write to.)"""
    from .guide import GUIDE_RULES

    if actor is not None:
        _require_dco(actor)
    existing = set(PolicyRule.objects.values_list("code", flat=True))
    created = 0
    for data in GUIDE_RULES:
        if data["code"] not in existing:
            _rule_create(actor=actor, fields=dict(data))
            created += 1
    return created


def _locked_update(model, pk, data: dict, *, fields, terms_field: str):
    """Lock the stored row and apply `data` to it (model_update: a key outside `fields` refused,
    validated, only changed fields saved); → (row, {field: [before, after]} for the audit)."""
    current = model.objects.select_for_update().get(pk=pk)
    if terms_field in data:
        data = {**data, terms_field: _terms_text(data[terms_field])}
    current, changes = model_update(instance=current, fields=fields, data=data)
    return current, {name: [_jsonable(before), _jsonable(after)] for name, (before, after) in changes.items()}


@transaction.atomic
def policy_rule_update(*, actor, rule: PolicyRule, data: dict) -> PolicyRule:
    """Apply `data` to the rule as stored (locked), whatever the in-memory `rule` holds."""
    _require_dco(actor)
    current, diff = _locked_update(PolicyRule, rule.pk, data, fields=RULE_FIELDS, terms_field="patterns")
    if diff:
        audit_record(
            actor=actor,
            action="policy.rule_update",
            obj=current,
            details={"code": current.code, "changes": diff},
        )
    return current


@transaction.atomic
def policy_rule_delete(*, actor, rule: PolicyRule) -> None:
    _require_dco(actor)
    current = PolicyRule.objects.select_for_update().get(pk=rule.pk)
    audit_record(
        actor=actor,
        action="policy.rule_delete",
        obj=current,
        details={f: _jsonable(getattr(current, f)) for f in RULE_FIELDS},
    )
    current.delete()


# --- Embargoes --------------------------------------------------------------------------------------


@transaction.atomic
def embargo_create(*, actor, topic: str, terms, until: datetime, note: str = "") -> Embargo:
    _require_dco(actor)
    if until is None or until <= timezone.now():
        raise ServiceError(_("until: an embargo must end in the future."), field="until")
    embargo = Embargo(topic=topic, terms=_terms_text(terms), until=until, note=note, created_by=actor)
    _validate(embargo, exclude=["created_by"])
    embargo.save()
    audit_record(
        actor=actor,
        action="policy.embargo_create",
        obj=embargo,
        details={"topic": embargo.topic, "terms": embargo.term_list(), "until": until.isoformat()},
    )
    return embargo


@transaction.atomic
def embargo_update(*, actor, embargo: Embargo, data: dict) -> Embargo:
    """Change an embargo. Moving `until` into the past ends it early (recorded as such)."""
    _require_dco(actor)
    current, diff = _locked_update(Embargo, embargo.pk, data, fields=EMBARGO_FIELDS, terms_field="terms")
    if diff:
        ended = "until" in diff and current.until <= timezone.now()
        audit_record(
            actor=actor,
            action="policy.embargo_end" if ended else "policy.embargo_update",
            obj=current,
            details={"topic": current.topic, "changes": diff},
        )
    return current


@transaction.atomic
def embargo_delete(*, actor, embargo: Embargo) -> None:
    _require_dco(actor)
    current = Embargo.objects.select_for_update().get(pk=embargo.pk)
    audit_record(
        actor=actor,
        action="policy.embargo_delete",
        obj=current,
        details={"topic": current.topic, "terms": current.term_list(), "until": current.until.isoformat()},
    )
    current.delete()


# --- Rulings ----------------------------------------------------------------------------------------


def _require_choice(value, choices, field):
    if value not in choices:
        raise ServiceError(
            _("%(field)s: one of %(choices)s.") % {"field": field, "choices": ", ".join(choices)}, field=field
        )


@transaction.atomic
def ruling_record(
    *,
    actor,
    text: str,
    network: str,
    account_kind: str,
    crisis: bool,
    verdict: str,
    comment: str = "",
    has_photo: bool = False,
    source: str = RulingSource.MANUAL,
    compiled=None,
) -> Ruling:
    """The DCO records the verdict the guide calls for on a draft. The check's own verdict on it, now,
    is kept beside it, so that the ruling shows whether it confirmed or overturned the check."""
    from apps.posts.models import Network

    from . import selectors

    _require_dco(actor)
    if not isinstance(text, str) or not text.strip():
        raise ServiceError(_("text: the draft's text is required."), field="text")
    _require_choice(network, Network.values, "network")
    _require_choice(account_kind, AccountKind.values, "account_kind")
    _require_choice(verdict, Verdict.values, "verdict")
    _require_choice(source, RulingSource.values, "source")
    draft = selectors.Draft(
        text=text, network=network, account_kind=account_kind, crisis=bool(crisis), has_photo=bool(has_photo)
    )
    # `compiled`: the rules already compiled by a caller recording many rulings at once.
    checked = selectors.replay(
        draft=draft, compiled=compiled if compiled is not None else selectors.guide_rules_compiled()
    )
    ruling = Ruling(
        text=text,
        network=network,
        account_kind=account_kind,
        crisis=bool(crisis),
        has_photo=bool(has_photo),
        verdict=verdict,
        comment=comment or "",
        source=source,
        check_verdict=checked.verdict,
        check_codes=list(checked.codes),
        created_by=actor,
    )
    _validate(ruling, exclude=["created_by"])
    ruling.save()
    audit_record(
        actor=actor,
        action="policy.ruling_record",
        obj=ruling,
        # The text may hold the very secret it was ruled on: the audit trail keeps only its digest.
        details={
            "verdict": verdict,
            "check_verdict": checked.verdict,
            "check_codes": list(checked.codes),
            "network": network,
            "account_kind": account_kind,
            "crisis": bool(crisis),
            "source": source,
            "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
        },
    )
    return ruling


@transaction.atomic
def ruling_delete(*, actor, ruling: Ruling) -> None:
    _require_dco(actor)
    current = Ruling.objects.select_for_update().get(pk=ruling.pk)
    audit_record(
        actor=actor,
        action="policy.ruling_delete",
        obj=current,
        details={
            "verdict": current.verdict,
            "text_sha256": hashlib.sha256(current.text.encode()).hexdigest(),
        },
    )
    current.delete()


@transaction.atomic
def rulings_import(*, actor, entries: list[dict]) -> list[Ruling]:
    """Record a corpus of rulings (the repository's fixture, an export from another installation):
    all or nothing, each one audited like a ruling recorded by hand."""
    from . import selectors

    _require_dco(actor)
    compiled = selectors.guide_rules_compiled()
    recorded = []
    for number, entry in enumerate(entries, start=1):
        try:
            recorded.append(
                ruling_record(
                    actor=actor,
                    text=entry.get("text"),
                    network=entry.get("network"),
                    account_kind=entry.get("account_kind"),
                    crisis=bool(entry.get("crisis", False)),
                    has_photo=bool(entry.get("has_photo", False)),
                    verdict=entry.get("verdict"),
                    comment=entry.get("comment", ""),
                    source=RulingSource.CORPUS,
                    compiled=compiled,
                )
            )
        except ServiceError as exc:
            raise ServiceError(
                _("Ruling %(number)s: %(error)s") % {"number": number, "error": exc.message}, field=exc.field
            ) from exc
    return recorded
