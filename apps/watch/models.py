"""The watch: the agency's professional accounts outside the DCO's hands, and the posts seen on
them during a crisis (sightings)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WatchKind(models.TextChoices):
    """How an account can be read: the reader in readers.py registered under this name."""

    MASTODON = "mastodon", "Mastodon"
    BLUESKY = "bluesky", "Bluesky"
    FEED = "feed", _("RSS/Atom feed")
    UNWATCHABLE = "unwatchable", _("unwatchable (no public read API)")


class WatchNetwork(models.TextChoices):
    # The official accounts' networks (apps.posts.models.Network) plus those only staff use.
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
    BLUESKY = "bluesky", "Bluesky"
    BLOG = "blog", _("blog or website")


class Registration(models.TextChoices):
    PROPOSED = "proposed", _("proposed")
    ACCEPTED = "accepted", _("accepted")
    REJECTED = "rejected", _("rejected")


class WatchedAccount(models.Model):
    """A professional account (a lab's, a project's, a researcher's). Watched once accepted by a
    DCO and active; the reader's state (cursor, validators, health) lives on the row."""

    network = models.CharField(_("network"), max_length=16, choices=WatchNetwork.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=WatchKind.choices)
    # Mastodon https://instance/@name, the Bluesky profile URL, or the feed URL.
    url = models.URLField(_("URL"), max_length=500, unique=True)
    owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="watched_accounts", blank=True, verbose_name=_("owners")
    )
    department = models.CharField(_("department"), max_length=120, blank=True)
    active = models.BooleanField(_("active"), default=True)
    registration = models.CharField(
        _("registration"), max_length=16, choices=Registration.choices, default=Registration.ACCEPTED
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    # Reader state. remote_id: the Mastodon account id or the Bluesky DID, found once.
    remote_id = models.CharField(max_length=200, blank=True)
    # The newest post id already read (Mastodon since_id; Bluesky: the newest post's time; feeds:
    # the last read's time and its undated entries, readers.FeedReader).
    cursor = models.TextField(blank=True)
    etag = models.CharField(max_length=300, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_read_at = models.DateTimeField(_("last read"), null=True, blank=True)
    last_good_read_at = models.DateTimeField(_("last good read"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Not read before this (a Retry-After, or a back-off after errors).
    next_read_at = models.DateTimeField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["network", "url"]
        indexes = [models.Index(fields=["registration", "active", "kind"])]
        verbose_name = _("watched account")
        verbose_name_plural = _("watched accounts")

    def __str__(self):
        return self.url

    @property
    def watchable(self) -> bool:
        return self.kind != WatchKind.UNWATCHABLE


class SightingKind(models.TextChoices):
    POST = "post", _("post")
    REPLY = "reply", _("reply")
    BOOST = "boost", _("boost")


class SightingStatus(models.TextChoices):
    NEW = "new", _("new")
    ACCEPTABLE = "acceptable", _("acceptable")
    FOLLOWED_UP = "followed_up", _("followed up")


class Sighting(models.Model):
    """One post seen on a watched account during a crisis: recorded once per (account, post)."""

    account = models.ForeignKey(WatchedAccount, on_delete=models.PROTECT, related_name="sightings")
    crisis = models.ForeignKey("crises.Crisis", on_delete=models.PROTECT, related_name="sightings")
    post_id = models.CharField(max_length=300)
    url = models.URLField(_("URL"), max_length=1000, blank=True)
    text = models.TextField(_("text"), blank=True)
    published_at = models.DateTimeField(_("published at"))
    # The entry carried no date (some feeds): published_at is when the watch first saw it.
    published_estimated = models.BooleanField(default=False)
    seen_at = models.DateTimeField(_("seen at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=8, choices=SightingKind.choices)
    # A boost of an official account's post or of an approved statement: not an offence.
    boost_of_official = models.BooleanField(default=False)
    verdict = models.CharField(_("verdict"), max_length=8)  # allowed | warn | blocked (policy)
    reasons = models.JSONField(default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=SightingStatus.choices, default=SightingStatus.NEW
    )
    comment = models.TextField(_("comment"), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["account", "post_id"], name="one_sighting_per_post")]
        indexes = [models.Index(fields=["crisis", "-published_at"])]
        verbose_name = _("sighting")
        verbose_name_plural = _("sightings")

    def __str__(self):
        return f"{self.account} {self.post_id}"


class CrisisWatch(models.Model):
    """Per crisis: whether the owners of registered accounts have been told by name (the outbox
    row of their notice). Written in the declaration's transaction, or by the next sweep."""

    crisis = models.OneToOneField("crises.Crisis", on_delete=models.PROTECT, related_name="watch")
    owners_told_at = models.DateTimeField()
    notice_event_id = models.PositiveBigIntegerField(null=True, blank=True)
    owners = models.PositiveIntegerField(default=0)
    accounts = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("crisis watch")

    def __str__(self):
        return f"watch of crisis {self.crisis_id}"
