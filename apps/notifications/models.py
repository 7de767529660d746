"""Notices: one outbox row per event (written in the caller's transaction) and one delivery row
per (event, person, channel), or per (event, team webhook), materialised later by Celery.

The crisis is kept as a plain integer: crises depend on notifications, never the reverse.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedURLField


class NoticeEvent(models.Model):
    """The outbox: what happened, to whom, with the context snapshot the messages are built from.

    `recipients` is None for "every active staff member" (resolved when materialised), or a list
    of user ids. A reminder round is a child event (`parent`, `reminder_round` ≥ 1) so that its
    notices are unique per person and channel like any other: one reminder per person per round.
    """

    event = models.CharField(_("event"), max_length=64, db_index=True)
    crisis_id = models.PositiveBigIntegerField(_("crisis"), null=True, blank=True, db_index=True)
    context = models.JSONField(_("context"), default=dict, blank=True)
    recipients = models.JSONField(_("recipients"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # PROTECT: notice events are evidence (issue 10); nothing deletes them.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reminders"
    )
    # On a root event: the last reminder round started; on a reminder: its round.
    reminder_round = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    materialised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "reminder_round"],
                condition=Q(parent__isnull=False),
                name="notice_event_one_reminder_per_round",
            )
        ]
        verbose_name = _("notice event")

    def __str__(self):
        suffix = f" (reminder {self.reminder_round})" if self.parent_id else ""
        return f"{self.event} #{self.pk}{suffix}"

    @property
    def root(self):
        return self.parent if self.parent_id else self


class WebhookKind(models.TextChoices):
    MATTERMOST = "mattermost", "Mattermost"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


class TeamWebhook(models.Model):
    """An incoming webhook of a team chat, configured by the DCO. An empty department means the
    whole organisation; otherwise the team of that department. The URL is a secret."""

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=WebhookKind.choices)
    # Encrypted at rest (apps.core.fields): the URL carries the webhook's token.
    url = EncryptedURLField(_("URL"), max_length=500)
    department = models.CharField(_("department"), max_length=120, blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team webhook")

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"


class NoticeStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    # Internal: handed to the channel right now. A row left here by a dead worker may have been
    # delivered, so it is never re-sent (see services.notices_expire_stale).
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    # Not sent, on purpose: superseded by a later event of the crisis (lift, stand-down), the
    # person deactivated, or the webhook switched off. `error` says which.
    CANCELLED = "cancelled", _("not sent")


class Notice(models.Model):
    # Few indexes, most of them partial: every mail updates its row twice, and each index on a
    # changed row costs. The foreign keys are covered by the composite indexes below.
    event = models.ForeignKey(NoticeEvent, on_delete=models.PROTECT, related_name="notices", db_index=False)
    crisis_id = models.PositiveBigIntegerField(null=True, blank=True)  # copied for reports
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notices",
        db_index=False,
    )
    webhook = models.ForeignKey(
        TeamWebhook, null=True, blank=True, on_delete=models.CASCADE, related_name="notices", db_index=False
    )
    # A channel's `type` (see channels.py); free text so that a new channel needs no migration.
    channel = models.CharField(_("channel"), max_length=32)
    department = models.CharField(_("department"), max_length=120, blank=True)
    language = models.CharField(_("language"), max_length=8, default=settings.LANGUAGE_CODE)
    status = models.CharField(
        _("status"), max_length=16, choices=NoticeStatus.choices, default=NoticeStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # The random part of the Message-ID (and the webhooks' Idempotency-Key): unique across
    # installations and restores, and the same for every re-send of this notice.
    message_key = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "user", "channel"],
                condition=Q(user__isnull=False),
                name="notice_one_per_event_person_channel",
            ),
            models.UniqueConstraint(
                fields=["event", "webhook"],
                condition=Q(webhook__isnull=False),
                name="notice_one_per_event_webhook",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(webhook__isnull=False), name="notice_has_recipient"
            ),
        ]
        indexes = [
            # What a worker claims: only the rows still queued are in it.
            models.Index(fields=["event", "channel"], condition=Q(status="queued"), name="notice_queued_idx"),
            # What the relay looks at: rows not yet handed over, or in flight.
            models.Index(
                fields=["status", "claimed_at"],
                condition=Q(status__in=["queued", "sending"]),
                name="notice_unsent_idx",
            ),
            models.Index(fields=["user", "event"], name="notice_user_event_idx"),
            # No index on crisis_id: figures are per event (the unique key's leading column),
            # and one index fewer makes materialising 350,000 rows faster.
        ]
        verbose_name = _("notice")

    def __str__(self):
        return f"{self.channel} notice #{self.pk} ({self.status})"


class Acknowledgement(models.Model):
    """Who acknowledged which event, when, and how: one row per (root event, person), written in
    the acknowledging transaction without touching the audit chain. The relay seals the unsealed
    rows into the chain in batches (`notification.acknowledge_batch` entries listing them), so the
    trail still tells who acknowledged what and when, while acknowledgements never queue on the
    chain's one lock."""

    event = models.ForeignKey(NoticeEvent, on_delete=models.PROTECT, related_name="acknowledgements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    crisis_id = models.PositiveBigIntegerField(null=True, blank=True)
    department = models.CharField(_("department"), max_length=120, blank=True)
    via = models.CharField(_("via"), max_length=16)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), default=timezone.now)
    sealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-acknowledged_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="acknowledgement_one_per_event_person")
        ]
        indexes = [
            models.Index(
                fields=["id"], condition=Q(sealed_at__isnull=True), name="acknowledgement_unsealed_idx"
            )
        ]
        verbose_name = _("acknowledgement")

    def __str__(self):
        return f"{self.user_id} acknowledged {self.event_id} at {self.acknowledged_at:%Y-%m-%d %H:%M}"
