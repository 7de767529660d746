"""The staff guide as data: pre-publication rules and the DCO's embargo registry.

Both are edited by the DCO (admin, API) through services.py, which audits every change and bumps the
version that invalidates the compiled matcher (see selectors.compiled_rules).
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.posts.models import Network

from . import matcher


class RuleKind(models.TextChoices):
    TERM = matcher.TERM, _("terms (whole words, * for a word prefix)")
    REGEX = matcher.REGEX, _("regular expressions")
    SCOPE = matcher.SCOPE, _("scope only (network / account kind / crisis)")
    EMBARGO = matcher.EMBARGO, _("embargo registry (terms come from the embargoes)")


class Severity(models.TextChoices):
    INFO = matcher.INFO, _("information")
    WARN = matcher.WARN, _("warning")
    BLOCK = matcher.BLOCK, _("blocking")


class Condition(models.TextChoices):
    ALWAYS = matcher.ALWAYS, _("always")
    NONE = matcher.NO_CRISIS, _("outside a crisis")
    CRISIS = matcher.CRISIS, _("while a crisis is open")
    FREEZE = matcher.FREEZE, _("while a crisis freeze is in force")
    AFTER_FREEZE = matcher.AFTER_FREEZE, _("crisis open, freeze over")


class AccountKind(models.TextChoices):
    PERSONAL = "personal", _("personal account")
    OFFICIAL = "official", _("official account")


def split_patterns(value: str) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def validate_terms(value: str):
    for term in split_patterns(value):
        if not matcher.term_tokens(term):
            raise ValidationError(_("“%(term)s” contains no word."), params={"term": term})


class PolicyRule(models.Model):
    code = models.CharField(
        _("code"),
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", _("Lower-case words separated by dots."))],
        help_text=_("Stable identifier returned by the API, e.g. confidential.credential."),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=RuleKind.choices, default=RuleKind.TERM)
    patterns = models.TextField(
        _("patterns"),
        blank=True,
        help_text=_(
            "One per line; accents and case are ignored. Terms: whole words, a word ending in * is a "
            "prefix (défaillan*). Regular expressions: Python syntax, (?-i:DR) for case-sensitive."
        ),
    )
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices, default=Severity.WARN)
    message_fr = models.TextField(_("message (French)"))
    message_en = models.TextField(_("message (English)"))
    guide = models.TextField(_("guide quote"), blank=True, help_text=_("The guide's words behind the rule."))
    enabled = models.BooleanField(_("enabled"), default=True)
    networks = models.JSONField(_("networks"), default=list, blank=True, help_text=_("Empty: every network."))
    account_kind = models.CharField(
        _("account kind"), max_length=16, choices=AccountKind.choices, blank=True, help_text=_("Empty: both.")
    )
    condition = models.CharField(_("condition"), max_length=16, choices=Condition.choices, default="always")
    on_photo = models.BooleanField(_("also when the post has a photo"), default=False)
    # Quoting what matched helps the author, except when it is a secret.
    quote_match = models.BooleanField(_("quote the matched words"), default=True)
    suppresses = models.JSONField(
        _("lifts these rules"),
        default=list,
        blank=True,
        help_text=_(
            "Codes of rules this rule lifts when it fires, e.g. relaying the official statement lifts "
            "crisis.freeze; rules not named here (an opinion, a denial) still apply."
        ),
    )
    passage_fr = models.CharField(
        _("guide passage (French)"), max_length=300, blank=True, help_text=_("Where the guide says it.")
    )
    passage_en = models.CharField(_("guide passage (English)"), max_length=300, blank=True)
    advice_fr = models.TextField(_("what to do instead (French)"), blank=True)
    advice_en = models.TextField(_("what to do instead (English)"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("policy rule")
        verbose_name_plural = _("policy rules")

    def __str__(self):
        return self.code

    def pattern_list(self) -> list[str]:
        return split_patterns(self.patterns)

    def clean(self):
        errors = {}
        if self.kind == RuleKind.TERM:
            try:
                validate_terms(self.patterns)
            except ValidationError as exc:
                errors["patterns"] = exc.messages
            if not self.pattern_list():
                errors["patterns"] = [_("A term rule needs at least one term.")]
        elif self.kind == RuleKind.REGEX:
            if not self.pattern_list():
                errors["patterns"] = [_("A regex rule needs at least one pattern.")]
            for pattern in self.pattern_list():
                try:
                    matcher.compile_regex(pattern)
                except re.error as exc:
                    errors["patterns"] = [
                        _("“%(pattern)s” is not a valid regular expression: %(error)s")
                        % {"pattern": pattern, "error": exc}
                    ]
                    break
            if "patterns" not in errors:
                for pattern in matcher.slow_patterns(self.pattern_list()):
                    errors["patterns"] = [
                        _("“%(pattern)s” is too slow on some texts (catastrophic backtracking); simplify it.")
                        % {"pattern": pattern}
                    ]
        if not isinstance(self.networks, list) or any(n not in Network.values for n in self.networks):
            errors["networks"] = [_("A list of networks among: %s.") % ", ".join(Network.values)]
        if not isinstance(self.suppresses, list) or any(
            not isinstance(code, str) or not code for code in self.suppresses
        ):
            errors["suppresses"] = [_("A list of rule codes.")]
        elif self.code in self.suppresses:
            errors["suppresses"] = [_("A rule cannot lift itself.")]
        if errors:
            raise ValidationError(errors)


class Embargo(models.Model):
    """An embargo on a subject: posts mentioning its terms are blocked until `until`."""

    topic = models.CharField(_("topic"), max_length=200)
    terms = models.TextField(_("terms"), help_text=_("One per line; whole words, * for a word prefix."))
    until = models.DateTimeField(_("until"), db_index=True)
    note = models.TextField(_("internal note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["until", "pk"]
        verbose_name = _("embargo")
        verbose_name_plural = _("embargoes")

    def __str__(self):
        return self.topic

    def term_list(self) -> list[str]:
        return split_patterns(self.terms)

    def clean(self):
        try:
            validate_terms(self.terms)
        except ValidationError as exc:
            raise ValidationError({"terms": exc.messages}) from exc
        if not self.term_list():
            raise ValidationError({"terms": [_("An embargo needs at least one term.")]})


class Verdict(models.TextChoices):
    ALLOWED = "allowed", _("allowed")
    WARN = "warn", _("allowed with care")
    BLOCKED = "blocked", _("blocked")


class RulingSource(models.TextChoices):
    CHECK = "check", _("a staff member's check")
    SIGHTING = "sighting", _("a sighting")
    MANUAL = "manual", _("by hand")
    CORPUS = "corpus", _("the repository's corpus")


class Ruling(models.Model):
    """The verdict the guide calls for on one draft, as the DCO rules it. Rulings are the regression
    corpus of the rules: every rule change is replayed against them (selectors.ruling_replay)."""

    # What a ruling records, in the order the admin shows and the export writes it.
    RECORD_FIELDS = (
        "text",
        "network",
        "account_kind",
        "crisis",
        "has_photo",
        "verdict",
        "comment",
        "source",
        "check_verdict",
        "check_codes",
        "created_by",
        "created_at",
    )

    text = models.TextField(_("text"))
    network = models.CharField(_("network"), max_length=16, choices=Network.choices)
    account_kind = models.CharField(_("account kind"), max_length=16, choices=AccountKind.choices)
    crisis = models.BooleanField(_("during a crisis"), default=False)
    has_photo = models.BooleanField(_("with a photo or a video"), default=False)
    verdict = models.CharField(_("verdict"), max_length=8, choices=Verdict.choices)
    comment = models.TextField(_("comment"), blank=True)
    source = models.CharField(_("source"), max_length=16, choices=RulingSource.choices, default="manual")
    # What the check answered when the ruling was recorded, to see later whether it was overturned.
    check_verdict = models.CharField(_("the check's verdict then"), max_length=8, choices=Verdict.choices)
    check_codes = models.JSONField(_("the rules that fired then"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("ruling")
        verbose_name_plural = _("rulings")

    def __str__(self):
        return f"#{self.pk} {self.verdict}: {self.text[:40]}"
