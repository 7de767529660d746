"""Official accounts, the post calendar, and the publishing gate.

The publisher knows only the gate, never what a crisis is: a crisis closes the gate (a
GateClosure). The freeze is logical: closing the gate touches no post. A post is `frozen` while
the gate is closed, it is waiting to go out (scheduled, or claimed but not sent) and it is not
exempt for that very closure; apps.posts.selectors derives it (the only place that does).
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedJSONField


class Network(models.TextChoices):
    FACEBOOK = "facebook", "Facebook"
    INSTAGRAM = "instagram", "Instagram"
    LINKEDIN = "linkedin", "LinkedIn"
    X = "x", "X"
    YOUTUBE = "youtube", "YouTube"
    TIKTOK = "tiktok", "TikTok"
    TWITCH = "twitch", "Twitch"
    MASTODON = "mastodon", "Mastodon"
    WHATSAPP = "whatsapp", "WhatsApp"
    DAILYMOTION = "dailymotion", "Dailymotion"


class ConnectorKind(models.TextChoices):
    MASTODON = "mastodon", "Mastodon"
    WEBHOOK = "webhook", _("Webhook")
    MANUAL = "manual", _("Manual")


class SocialAccount(models.Model):
    network = models.CharField(_("network"), max_length=16, choices=Network.choices)
    handle = models.CharField(_("handle"), max_length=200)
    connector = models.CharField(_("connector"), max_length=16, choices=ConnectorKind.choices)
    # Per connector: mastodon {base_url, access_token}, webhook {url, secret}, manual {assignee}.
    # Encrypted at rest (apps.core.fields): tokens and secrets never sit in the database in clear.
    config = EncryptedJSONField(_("configuration"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network", "handle"]
        constraints = [models.UniqueConstraint(fields=["network", "handle"], name="account_unique_handle")]
        verbose_name = _("official account")

    def __str__(self):
        return f"{self.get_network_display()} {self.handle}"


class GateClosure(models.Model):
    """A period during which the publishing gate is closed. At most one is open at a time."""

    reason = models.CharField(max_length=200)
    closed_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    # True while closed, NULL once reopened: the unique constraint allows one closed gate.
    is_current = models.BooleanField(null=True, default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["is_current"], name="one_current_gate_closure")]

    def __str__(self):
        return f"{self.reason} ({self.closed_at:%Y-%m-%d %H:%M})"


class PostStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    # Never stored (a database constraint refuses it): derived by apps.posts.selectors.
    FROZEN = "frozen", _("frozen")
    PUBLISHING = "publishing", _("publishing")
    PUBLISHED = "published", _("published")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")
    # A send whose outcome could not be recorded (its database session was lost mid-send): it
    # may have gone out. Never re-sent automatically; listed as a retraction candidate.
    UNCERTAIN = "uncertain", _("may have gone out")


# The stored statuses a closed gate holds back (claimed-but-unsent posts too: the send-time
# recheck puts them back to `scheduled`).
FREEZABLE_STATUSES = (PostStatus.SCHEDULED, PostStatus.PUBLISHING)


class Post(models.Model):
    account = models.ForeignKey(SocialAccount, on_delete=models.PROTECT, related_name="posts")
    body = models.TextField(_("body"))
    scheduled_at = models.DateTimeField(_("scheduled at"))
    status = models.CharField(max_length=16, choices=PostStatus.choices, default=PostStatus.SCHEDULED)
    # Set only by the server (statements service) for an approved crisis statement.
    exempt = models.BooleanField(default=False)
    # The one closure this post may pass: exemption is bound to the crisis it was granted for,
    # so a statement planned late never goes out through a later crisis's closed gate.
    exempt_closure = models.ForeignKey(
        GateClosure, null=True, blank=True, on_delete=models.PROTECT, related_name="exempt_posts"
    )
    # Held back by a validation chain (statements app): the publisher never claims it while True.
    awaiting_approval = models.BooleanField(default=False)
    # Sent to the network as Idempotency-Key: a retried or re-claimed send is never doubled.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    external_url = models.URLField(max_length=500, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Committed before a send may start, cleared when its outcome is recorded: still set on a
    # `publishing` row nobody is sending means the outcome was lost (-> `uncertain`).
    send_started_at = models.DateTimeField(null=True, blank=True)
    # The last time a request may have reached the network (written, whatever the answer).
    network_attempt_at = models.DateTimeField(null=True, blank=True)
    # Manual connector: the person who must publish it by hand and then mark it published.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retracted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheduled_at", "id"]
        indexes = [models.Index(fields=["status", "scheduled_at"])]
        constraints = [
            models.CheckConstraint(condition=~models.Q(status="frozen"), name="post_frozen_is_derived"),
        ]
        verbose_name = _("post")

    def __str__(self):
        return f"{self.account} @ {self.scheduled_at:%Y-%m-%d %H:%M} ({self.status})"
