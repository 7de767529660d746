"""Reads: the compiled rule set (cached per process, keyed by a shared version) and the check itself."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _

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


@dataclass
class Reason:
    code: str
    severity: str
    message: str
    match: str = ""
    guide: str = ""


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


def rule_specs(now: datetime | None = None) -> list[matcher.RuleSpec]:
    """Every enabled rule, plus one spec per embargo still running, as the matcher sees them."""
    now = now or timezone.now()
    specs = []
    embargo_templates = []
    for rule in PolicyRule.objects.filter(enabled=True).order_by("code"):
        text = RuleText(
            message_fr=rule.message_fr,
            message_en=rule.message_en,
            guide=rule.guide,
            quote_match=rule.quote_match,
        )
        common = {
            "severity": rule.severity,
            "networks": frozenset(rule.networks or ()),
            "account_kind": rule.account_kind,
            "condition": rule.condition,
            "on_photo": rule.on_photo,
        }
        if rule.kind == RuleKind.EMBARGO:
            embargo_templates.append((rule, text, common))
            continue
        specs.append(
            matcher.RuleSpec(
                key=f"rule:{rule.pk}",
                code=rule.code,
                kind=rule.kind,
                patterns=tuple(rule.pattern_list()),
                ref=text,
                **common,
            )
        )
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
                    ref=RuleText(
                        message_fr=text.message_fr,
                        message_en=text.message_en,
                        guide=text.guide,
                        quote_match=text.quote_match,
                        topic=embargo.topic,
                        until=embargo.until,
                    ),
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


def render_reason(hit: matcher.Hit, *, crisis=None) -> Reason:
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
    return Reason(
        code=hit.spec.code, severity=hit.spec.severity, message=message, match=match, guide=text.guide
    )


def precheck(
    *, network: str, text: str, account_kind: str, has_photo: bool = False, now: datetime | None = None
) -> PrecheckResult:
    """May this be posted? The verdict and every reason, most severe first, in the active language."""
    now = now or timezone.now()
    crisis = crisis_open()
    hits = compiled_rules().match(
        text,
        network=network,
        account_kind=account_kind,
        has_photo=has_photo,
        crisis_state=matcher.crisis_state_for(crisis, now),
        now=now,
    )
    return PrecheckResult(
        verdict=matcher.verdict_of(hits),
        reasons=[render_reason(hit, crisis=crisis) for hit in hits],
        crisis=crisis,
    )


VERDICT_LABELS = {
    "allowed": _("Allowed"),
    "warn": _("Allowed with care"),
    "blocked": _("Blocked"),
}


def embargo_list():
    return Embargo.objects.select_related("created_by").order_by("until", "pk")


def caller_language(request) -> str:
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
