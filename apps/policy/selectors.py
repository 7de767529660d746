"""Reads: the compiled rule set (cached per process, keyed by a shared version) and the check itself."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ServiceError
from apps.crises.selectors import crisis_open

from . import matcher
from .models import Embargo, PolicyRule, RuleKind

logger = logging.getLogger(__name__)

VERSION_KEY = "crisiscomm:policy:rules-version"
EMBARGO_CODE = "embargo.active"

# Per process: {"entry": (version, compiled, built_at)}, replaced whole so that readers in other threads
# never see a version paired with another version's rules. Rebuilt when the shared version moves, and
# at least every MAX_AGE seconds: that bounds staleness where the version cannot be shared (the
# per-process local-memory cache of a no-Redis install) or a change bypassed the signals
# (QuerySet.update).
_compiled_cache: dict[str, tuple[str, matcher.CompiledRules, float] | None] = {"entry": None}
MAX_AGE = 60.0
_compile_lock = threading.Lock()


@dataclass(frozen=True)
class RuleText:
    """What a reason is rendered from: the rule's messages plus, for embargoes, the embargo."""

    message_fr: str
    message_en: str
    guide: str = ""
    quote_match: bool = True
    topic: str = ""
    until: datetime | None = None
    passage_fr: str = ""
    passage_en: str = ""
    advice_fr: str = ""
    advice_en: str = ""


@dataclass
class Reason:
    code: str
    severity: str
    message: str
    match: str = ""
    guide: str = ""
    passage: str = ""  # where the guide says it, in the reader's language
    advice: str = ""  # what to do instead, in the reader's language


@dataclass
class PrecheckResult:
    verdict: str
    reasons: list[Reason] = field(default_factory=list)
    crisis: object | None = None


def rules_version() -> str | None:
    """The shared version of the rule set; None when the cache cannot be reached (then no caching)."""
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
        return version
    except Exception:  # a cache outage must not stop the check; it only costs a recompilation
        logger.warning("policy: rules version unavailable, compiling without cache", exc_info=True)
        return None


def _bump():
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning("policy: could not bump the rules version", exc_info=True)
    _compiled_cache["entry"] = None


def bump_rules_version():
    """Invalidate every process's compiled rules: now (this transaction sees its own change) and
    again after commit (so that no process keeps rules it compiled from the pre-commit state)."""
    _bump()
    transaction.on_commit(_bump)


def rule_text(*, rule: PolicyRule) -> RuleText:
    return RuleText(
        message_fr=rule.message_fr,
        message_en=rule.message_en,
        guide=rule.guide,
        quote_match=rule.quote_match,
        passage_fr=rule.passage_fr,
        passage_en=rule.passage_en,
        advice_fr=rule.advice_fr,
        advice_en=rule.advice_en,
    )


def rule_spec(*, rule: PolicyRule) -> matcher.RuleSpec:
    """A (non-embargo) rule as the matcher sees it; also used on unsaved rules to preview a change."""
    return matcher.RuleSpec(
        key=f"rule:{rule.pk or rule.code}",
        code=rule.code,
        kind=rule.kind,
        patterns=tuple(rule.pattern_list()),
        ref=rule_text(rule=rule),
        **_scope(rule),
    )


def _scope(rule: PolicyRule) -> dict:
    return {
        "severity": rule.severity,
        "networks": frozenset(rule.networks or ()),
        "account_kind": rule.account_kind,
        "condition": rule.condition,
        "on_photo": rule.on_photo,
        "suppresses": frozenset(rule.suppresses or ()),
    }


def rule_specs(*, now: datetime | None = None) -> list[matcher.RuleSpec]:
    """Every enabled rule, plus one spec per embargo still running, as the matcher sees them."""
    now = now or timezone.now()
    specs = []
    embargo_templates = []
    for rule in PolicyRule.objects.filter(enabled=True).order_by("code"):
        if rule.kind == RuleKind.EMBARGO:
            embargo_templates.append((rule, rule_text(rule=rule), _scope(rule)))
            continue
        specs.append(rule_spec(rule=rule))
    if not embargo_templates:
        # The registry is enforced even if its message rule was deleted: fall back to built-in words.
        fallback = RuleText(
            message_fr="« {topic} » est sous embargo jusqu'au {until} : ne publiez rien qui s'y rapporte.",
            message_en="“{topic}” is under embargo until {until}: publish nothing about it before then.",
        )
        embargo_templates.append((None, fallback, {"severity": matcher.BLOCK}))
    for embargo in Embargo.objects.filter(until__gt=now).order_by("until", "pk"):
        for rule, text, common in embargo_templates:
            specs.append(
                matcher.RuleSpec(
                    key=f"embargo:{embargo.pk}:{rule.pk if rule else 0}",
                    code=rule.code if rule else EMBARGO_CODE,
                    kind=matcher.EMBARGO,
                    patterns=tuple(embargo.term_list()),
                    until=embargo.until,
                    ref=dataclasses.replace(text, topic=embargo.topic, until=embargo.until),
                    **common,
                )
            )
    return specs


def compiled_rules() -> matcher.CompiledRules:
    """The compiled rule set, rebuilt when a rule or an embargo changed (2 queries then), or when
    older than MAX_AGE."""
    version = rules_version()

    def fresh(entry):
        return (
            version is not None
            and entry is not None
            and entry[0] == version
            and time.monotonic() - entry[2] < MAX_AGE
        )

    entry = _compiled_cache["entry"]
    if fresh(entry):
        return entry[1]
    with _compile_lock:
        entry = _compiled_cache["entry"]
        if fresh(entry):
            return entry[1]
        compiled = matcher.CompiledRules.build(rule_specs())
        if version is not None:
            _compiled_cache["entry"] = (version, compiled, time.monotonic())
        return compiled


class _Placeholders(dict):
    def __missing__(self, key):  # a placeholder the DCO mistyped stays visible, never a crash
        return "{" + key + "}"


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def render_reason(*, hit: matcher.Hit, crisis=None) -> Reason:
    """A hit as a reason, in the active language (callers wrap in translation.override)."""
    text: RuleText = hit.spec.ref or RuleText(message_fr=hit.spec.code, message_en=hit.spec.code)
    language = (translation.get_language() or "fr").split("-")[0]
    template = text.message_en if language == "en" else text.message_fr
    match = hit.fragment if text.quote_match else ""
    values = _Placeholders(
        crisis=crisis.title if crisis else "",
        freeze_until=_when(crisis.freeze_until) if crisis else "",
        topic=text.topic,
        until=_when(text.until),
        match=match,
    )
    try:
        message = template.format_map(values)
    except (ValueError, IndexError, AttributeError):  # stray braces in a DCO-written message
        message = template
    english = language == "en"
    return Reason(
        code=hit.spec.code,
        severity=hit.spec.severity,
        message=message,
        match=match,
        guide=text.guide,
        passage=text.passage_en if english else text.passage_fr,
        advice=text.advice_en if english else text.advice_fr,
    )


def precheck(
    *,
    network: str,
    text: str,
    account_kind: str,
    has_photo: bool = False,
    now: datetime | None = None,
    crisis_rules: bool = False,
) -> PrecheckResult:
    """May this be posted? The verdict and every reason, most severe first, in the active language.

    The public entry point of the check (the pre-check page and API, the watch's sightings). The
    crisis state is the open crisis's; `crisis_rules=True` applies the crisis rules even when no crisis
    is open (as during the freeze), for a caller that judges posts against crisis conduct anyway.
    """
    now = now or timezone.now()
    crisis = crisis_open()
    state = matcher.crisis_state_for(crisis, now)
    if crisis_rules and state == matcher.NO_CRISIS:
        state = matcher.FREEZE
    hits = compiled_rules().match(
        text,
        network=network,
        account_kind=account_kind,
        has_photo=has_photo,
        crisis_state=state,
        now=now,
    )
    return PrecheckResult(
        verdict=matcher.verdict_of(hits),
        reasons=[render_reason(hit=hit, crisis=crisis) for hit in hits],
        crisis=crisis,
    )


VERDICT_LABELS = {
    "allowed": _("Allowed"),
    "warn": _("Allowed with care"),
    "blocked": _("Blocked"),
}


def embargo_list():
    return Embargo.objects.select_related("created_by").order_by("until", "pk")


def caller_language(*, request) -> str:
    """The caller's language: an explicit choice on the site (language cookie), else the request's
    Accept-Language, else the staff profile's language, else the default."""
    from django.conf import settings

    from apps.accounts.models import profile_of

    supported = {code for code, _name in settings.LANGUAGES}
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if cookie in supported:
        return cookie
    if request.META.get("HTTP_ACCEPT_LANGUAGE"):
        for code, _quality in translation.trans_real.parse_accept_lang_header(
            request.META["HTTP_ACCEPT_LANGUAGE"]
        ):
            if code == "*":
                break
            base = code.split("-")[0].lower()
            if base in supported:
                return base
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        language, _department = profile_of(user)
        if language in supported:
            return language
    return settings.LANGUAGE_CODE


# --- Rulings: the regression corpus -----------------------------------------------------------------

VERDICT_RANK = {"allowed": 0, "warn": 1, "blocked": 2}
# The repository's corpus of rulings: plain JSON, the same fields as the API's export.
CORPUS_PATH = Path(__file__).resolve().parent / "fixtures" / "rulings.json"


def ruling_state(*, crisis: bool) -> str:
    """A ruling records only whether a crisis was open; it is replayed in the freeze, when the crisis
    rules bite hardest (and the relay rule matters most)."""
    return matcher.FREEZE if crisis else matcher.NO_CRISIS


def guide_rules_compiled(*, rules=None) -> matcher.CompiledRules:
    """The enabled rules (or `rules`), without the embargo registry: an embargo ends, a ruling stays,
    so rulings are replayed against the guide's rules only."""
    if rules is None:
        rules = PolicyRule.objects.filter(enabled=True).order_by("code")
    return matcher.CompiledRules.build(
        rule_spec(rule=rule) for rule in rules if rule.enabled and rule.kind != RuleKind.EMBARGO
    )


@dataclass(frozen=True)
class Draft:
    """What a ruling is about: one draft in one setting (a Ruling row or a corpus entry)."""

    text: str
    network: str
    account_kind: str
    crisis: bool = False
    has_photo: bool = False
    verdict: str = ""  # the ruling's verdict
    comment: str = ""
    id: int | None = None

    @classmethod
    def of(cls, item) -> Draft:
        get = item.get if isinstance(item, dict) else lambda name, default=None: getattr(item, name, default)
        return cls(
            text=get("text", ""),
            network=get("network", ""),
            account_kind=get("account_kind", ""),
            crisis=bool(get("crisis", False)),
            has_photo=bool(get("has_photo", False)),
            verdict=get("verdict", ""),
            comment=get("comment", "") or "",
            id=get("id", None),
        )


@dataclass(frozen=True)
class Replayed:
    draft: Draft
    verdict: str  # what the check answers
    codes: tuple[str, ...]  # the rules that fired, most severe first
    severities: tuple[str, ...]

    @property
    def agrees(self) -> bool:
        return self.verdict == self.draft.verdict


def replay(*, draft: Draft, compiled: matcher.CompiledRules) -> Replayed:
    hits = compiled.match(
        draft.text,
        network=draft.network,
        account_kind=draft.account_kind,
        has_photo=draft.has_photo,
        crisis_state=ruling_state(crisis=draft.crisis),
        quote=False,
    )
    return Replayed(
        draft=draft,
        verdict=matcher.verdict_of(hits),
        codes=tuple(h.spec.code for h in hits),
        severities=tuple(h.spec.severity for h in hits),
    )


def replay_all(*, drafts, compiled: matcher.CompiledRules | None = None) -> list[Replayed]:
    compiled = compiled if compiled is not None else guide_rules_compiled()
    return [replay(draft=Draft.of(d), compiled=compiled) for d in drafts]


def ruling_figures(*, replayed: list[Replayed]) -> dict:
    """Agreement overall and per rule: how often each rule fired, and how often a ruling overturned it
    (the rule fired, and the DCO's verdict is milder than the rule's severity: the rule went too far).
    `missed` counts the rulings stricter than the check (no rule went far enough)."""
    severity_verdict = {matcher.INFO: "allowed", matcher.WARN: "warn", matcher.BLOCK: "blocked"}
    per_rule: dict[str, dict] = {}
    for item in replayed:
        for code, severity in zip(item.codes, item.severities, strict=True):
            row = per_rule.setdefault(code, {"code": code, "fired": 0, "overturned": 0})
            row["fired"] += 1
            if VERDICT_RANK[item.draft.verdict] < VERDICT_RANK[severity_verdict[severity]]:
                row["overturned"] += 1
    total = len(replayed)
    agreed = sum(item.agrees for item in replayed)
    return {
        "total": total,
        "agreed": agreed,
        "agreement": agreed / total if total else None,
        "too_strict": sum(VERDICT_RANK[i.verdict] > VERDICT_RANK[i.draft.verdict] for i in replayed),
        "missed": sum(VERDICT_RANK[i.verdict] < VERDICT_RANK[i.draft.verdict] for i in replayed),
        "rules": sorted(per_rule.values(), key=lambda row: (-row["overturned"], -row["fired"], row["code"])),
        "disagreements": [item for item in replayed if not item.agrees],
    }


def ruling_list():
    from .models import Ruling

    return Ruling.objects.select_related("created_by").order_by("-created_at", "-pk")


def rule_change_impact(*, proposed: list[PolicyRule], rulings=None) -> dict:
    """Which recorded rulings the rule set `proposed` (in place of the current enabled rules) would
    newly break (agreed now, not after) or newly fix (the reverse). Nothing is saved."""
    drafts = [Draft.of(r) for r in (rulings if rulings is not None else ruling_list())]
    before = replay_all(drafts=drafts, compiled=guide_rules_compiled())
    after = replay_all(drafts=drafts, compiled=guide_rules_compiled(rules=proposed))
    broken, fixed = [], []
    for old, new in zip(before, after, strict=True):
        if old.agrees and not new.agrees:
            broken.append((old, new))
        elif new.agrees and not old.agrees:
            fixed.append((old, new))
    return {
        "rulings": len(drafts),
        "agreed_before": sum(i.agrees for i in before),
        "agreed_after": sum(i.agrees for i in after),
        "newly_broken": broken,
        "newly_fixed": fixed,
    }


def rules_with_change(*, code: str, changes: dict | None = None, delete: bool = False) -> list[PolicyRule]:
    """The enabled rule set as it would be after changing (or deleting) the rule `code`; unsaved
    copies, for rule_change_impact. A new code adds a rule. Raises ValidationError on a bad change."""
    rules = {rule.code: rule for rule in PolicyRule.objects.order_by("code")}
    if delete:
        rules.pop(code, None)
    else:
        rule = rules.get(code) or PolicyRule(code=code)
        rule = _copy(rule)
        for name, value in (changes or {}).items():
            if name == "patterns" and not isinstance(value, str):
                value = "\n".join(str(v).strip() for v in value if str(v).strip())
            setattr(rule, name, value)
        rule.full_clean(validate_unique=False)
        rules.pop(code, None)
        rules[rule.code] = rule
    return [rule for rule in rules.values() if rule.enabled]


def rule_change_preview(*, code: str, changes: dict | None = None, delete: bool = False) -> dict:
    """rule_change_impact of changing (or deleting) the rule `code`: what the admin's preview and
    the API's preview and PATCH show before a change is saved. A bad change is refused with a
    ServiceError naming the field."""
    try:
        proposed = rules_with_change(code=code, changes=changes, delete=delete)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ServiceError(f"{field}: {messages[0]}", field=field) from exc
    return rule_change_impact(proposed=proposed)


def _copy(rule: PolicyRule) -> PolicyRule:
    copy = PolicyRule()
    for model_field in PolicyRule._meta.concrete_fields:
        setattr(copy, model_field.attname, getattr(rule, model_field.attname))
    return copy


def corpus_entries() -> list[dict]:
    return json.loads(CORPUS_PATH.read_text(encoding="utf-8"))


def figures_of(*, of: str = "recorded") -> dict:
    """ruling_figures of the recorded rulings, or of the repository's corpus (`of="corpus"`)."""
    return ruling_figures(replayed=replay_all(drafts=corpus_entries() if of == "corpus" else ruling_list()))
