"""Spokesperson mandates, crisis statements and validation chains.

- A **mandate** is what makes someone a spokesperson: the `spokesperson` group alone grants
  nothing, and is not required either. Being active (not revoked, inside its validity window) is
  checked at every use, so expiry and revocation need no job.
- A **statement** has immutable **revisions**; the statement row points at the current one.
- A **validation chain** (ordered steps) is data. Each run of a chain over something is an
  **approval request** — over a statement revision, or over a calendar post in normal times —
  and each decision on it is an immutable **Decision** row bound to the revision it judged.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.roles import ADMIN, ROLES


class ImmutableError(Exception):
    """Revisions and decisions are written once, never changed or deleted."""


class ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableError(f"{self.model._meta.label} rows cannot be updated")

    def delete(self):
        raise ImmutableError(f"{self.model._meta.label} rows cannot be deleted")


class ImmutableModel(models.Model):
    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError(f"{self._meta.label} rows cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError(f"{self._meta.label} rows cannot be deleted")


def _lower_set(values) -> set[str]:
    return {str(v).strip().lower() for v in values or () if str(v).strip()}


class MandateQuerySet(models.QuerySet):
    def active(self, at=None):
        at = at or timezone.now()
        return self.filter(
            revoked_at__isnull=True, valid_from__lte=at, valid_until__gt=at, user__is_active=True
        )


class Mandate(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mandates")
    # Subjects covered; empty = every subject. Compared case-insensitively with Crisis.topics.
    topics = models.JSONField(_("topics"), default=list, blank=True)
    # Networks the holder may speak on; empty = every network of the official accounts.
    networks = models.JSONField(_("networks"), default=list, blank=True)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoke_reason = models.CharField(max_length=500, blank=True)

    objects = MandateQuerySet.as_manager()

    class Meta:
        ordering = ["-valid_from", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at", "valid_until"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("valid_from")), name="mandate_valid_window"
            )
        ]
        verbose_name = _("spokesperson mandate")

    def __str__(self):
        return f"{self.user} {self.valid_from:%Y-%m-%d}→{self.valid_until:%Y-%m-%d}"

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return (
            self.revoked_at is None
            and self.valid_from <= at < self.valid_until
            and getattr(self.user, "is_active", True)
        )

    def covers_topics(self, crisis_topics) -> bool:
        mine = _lower_set(self.topics)
        return not mine or bool(mine & _lower_set(crisis_topics))

    def allowed_networks(self) -> set[str] | None:
        """None = every network."""
        return _lower_set(self.networks) or None


class ValidationChain(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_default = models.BooleanField(_("default chain"), default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_chain"
            )
        ]
        verbose_name = _("validation chain")

    def __str__(self):
        return self.name


class StepRule(models.TextChoices):
    ANY = "any", _("any one of them approves")
    ALL = "all", _("all of them approve")


STEP_ROLES = [(code, label) for code, label in ROLES.items() if code != ADMIN]


class ChainStep(models.Model):
    chain = models.ForeignKey(ValidationChain, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("order"))
    name = models.CharField(_("name"), max_length=120)
    # Who may decide: the named people if any, otherwise every active holder of `role`.
    # Never `admin`: the user administrator holds no crisis power (separation of duties).
    role = models.CharField(_("role"), max_length=32, choices=STEP_ROLES, blank=True)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    rule = models.CharField(_("rule"), max_length=8, choices=StepRule.choices, default=StepRule.ANY)

    class Meta:
        ordering = ["chain", "order"]
        constraints = [models.UniqueConstraint(fields=["chain", "order"], name="chain_step_order_unique")]
        verbose_name = _("chain step")

    def __str__(self):
        return f"{self.chain} #{self.order} {self.name}"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    IN_REVIEW = "in_review", _("in review")
    CHANGES_REQUESTED = "changes_requested", _("changes requested")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")
    # Its posts exist; at least one is not out yet (scheduled, sending, a to-do by hand, failing).
    PUBLISHING = "publishing", _("publishing")
    # Every one of its posts is out.
    PUBLISHED = "published", _("published")


class Statement(models.Model):
    crisis = models.ForeignKey("crises.Crisis", on_delete=models.PROTECT, related_name="statements")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Current content: a copy of the latest revision, kept for listing and filtering.
    body = models.TextField(_("body"))
    accounts = models.ManyToManyField("posts.SocialAccount", related_name="+")
    revision = models.PositiveIntegerField(_("revision"), default=1)
    status = models.CharField(
        max_length=20, choices=StatementStatus.choices, default=StatementStatus.DRAFT, db_index=True
    )
    # When the author wants it out. Publication never happens before approval; an approval that
    # comes after this time publishes nothing until someone gives a new time.
    planned_at = models.DateTimeField(_("planned at"), null=True, blank=True)
    # When the last of its posts went out (status `published`), not when publishing was asked.
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("statement")

    def __str__(self):
        return f"#{self.pk} r{self.revision} ({self.status})"


class StatementRevision(ImmutableModel):
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    body = models.TextField()
    account_ids = models.JSONField(default=list)  # snapshot of the chosen accounts
    planned_at = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["statement", "number"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "number"], name="statement_revision_unique")
        ]
        verbose_name = _("statement revision")

    def __str__(self):
        return f"statement #{self.statement_id} r{self.number}"


class ApprovalKind(models.TextChoices):
    STATEMENT = "statement", _("statement")
    POST = "post", _("calendar post")


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    CHANGES_REQUESTED = "changes_requested", _("changes requested")
    VOIDED = "voided", _("voided by an edit")
    CANCELLED = "cancelled", _("cancelled")


class ApprovalRequest(models.Model):
    """One run of a validation chain over a statement revision or a calendar post."""

    kind = models.CharField(max_length=16, choices=ApprovalKind.choices)
    chain = models.ForeignKey(ValidationChain, on_delete=models.PROTECT, related_name="requests")
    statement = models.ForeignKey(
        Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="approval_requests"
    )
    revision = models.ForeignKey(
        StatementRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="approval_requests"
    )
    post = models.ForeignKey(
        "posts.Post", null=True, blank=True, on_delete=models.PROTECT, related_name="approval_requests"
    )
    # What the post looked like when approval was asked: a later change voids the run.
    post_snapshot = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING, db_index=True
    )
    current_step = models.ForeignKey(
        ChainStep, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Post runs: approved, but the planned time had passed — the post stays held until a new time.
    needs_new_time = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind="statement", statement__isnull=False, revision__isnull=False, post__isnull=True
                    )
                    | models.Q(kind="post", post__isnull=False, statement__isnull=True, revision__isnull=True)
                ),
                name="approval_request_one_subject",
            ),
            models.UniqueConstraint(
                fields=["statement"], condition=models.Q(status="pending"), name="one_pending_statement_run"
            ),
            models.UniqueConstraint(
                fields=["post"], condition=models.Q(status="pending"), name="one_pending_post_run"
            ),
        ]
        verbose_name = _("approval request")

    def __str__(self):
        subject = f"statement #{self.statement_id}" if self.statement_id else f"post #{self.post_id}"
        return f"{subject} via {self.chain_id} ({self.status})"


class Verdict(models.TextChoices):
    APPROVE = "approve", _("approve")
    REJECT = "reject", _("reject")
    REQUEST_CHANGES = "request_changes", _("request changes")


class Decision(ImmutableModel):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.PROTECT, related_name="decisions")
    step = models.ForeignKey(ChainStep, on_delete=models.PROTECT, related_name="+")
    # The exact revision judged (statement runs); an edit makes a new revision and voids the run.
    revision = models.ForeignKey(
        StatementRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "step", "actor"], name="one_decision_per_person_step")
        ]
        verbose_name = _("decision")

    def __str__(self):
        return f"{self.actor} {self.verdict} step {self.step_id}"


class StatementPost(models.Model):
    """The link that makes a post exempt: created only by the publish service."""

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="post_links")
    revision = models.ForeignKey(StatementRevision, on_delete=models.PROTECT, related_name="+")
    post = models.OneToOneField("posts.Post", on_delete=models.PROTECT, related_name="statement_link")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("statement post")

    def __str__(self):
        return f"statement #{self.statement_id} → post #{self.post_id}"
