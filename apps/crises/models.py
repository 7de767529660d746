from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CrisisStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    LIFTING = "lifting", _("lifting")
    CLOSED = "closed", _("closed")


class EndKind(models.TextChoices):
    LIFT = "lift", _("lift")
    STAND_DOWN = "stand_down", _("stand-down")


class PostFate(models.TextChoices):
    RELEASE = "release", _("release")
    RESCHEDULE = "reschedule", _("reschedule")
    CANCEL = "cancel", _("cancel")


class Crisis(models.Model):
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("internal summary"), blank=True)
    severity = models.PositiveSmallIntegerField(_("severity"))  # 1 to 3, 3 the gravest
    topics = models.JSONField(_("topics"), default=list, blank=True)
    status = models.CharField(max_length=16, choices=CrisisStatus.choices, default=CrisisStatus.ACTIVE)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    declared_at = models.DateTimeField()
    # A real column: operators and tests move it. Never earlier than declared_at + 24h.
    freeze_until = models.DateTimeField()
    gate_closure = models.OneToOneField("posts.GateClosure", on_delete=models.PROTECT, related_name="crisis")
    closed_at = models.DateTimeField(null=True, blank=True)
    # True while active or lifting, NULL once closed: the database allows one open crisis.
    is_open = models.BooleanField(null=True, default=True)
    # The pending (then approved) end: a lift after review, or a stand-down of an error.
    end_kind = models.CharField(max_length=16, choices=EndKind.choices, blank=True)
    end_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    end_requested_at = models.DateTimeField(null=True, blank=True)
    # The lift comment, or the stand-down reason.
    end_comment = models.TextField(blank=True)
    # {code: {"by": user id, "at": iso}} for each resumption checklist item confirmed.
    checklist_confirmed = models.JSONField(default=dict, blank=True)
    # Who may approve the pending end: the users holding `dco` when it was requested, but the
    # requester (a dco made after the request cannot approve it).
    end_eligible_approvers = models.JSONField(default=list, blank=True)
    end_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-declared_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_open"], name="one_open_crisis"),
            models.CheckConstraint(
                condition=models.Q(severity__gte=1, severity__lte=3), name="crisis_severity_1_to_3"
            ),
            # The 24 h minimum, whatever door writes the row (the API, the admin, SQL by hand).
            models.CheckConstraint(
                condition=models.Q(freeze_until__gte=models.F("declared_at") + timedelta(hours=24)),
                name="crisis_freeze_at_least_24h",
            ),
        ]
        verbose_name = _("crisis")
        verbose_name_plural = _("crises")

    def __str__(self):
        return self.title


class PostDecision(models.Model):
    """The review's decision for one post frozen by a crisis, applied when the crisis ends."""

    crisis = models.ForeignKey(Crisis, on_delete=models.PROTECT, related_name="decisions")
    post = models.ForeignKey("posts.Post", on_delete=models.PROTECT, related_name="crisis_decisions")
    decision = models.CharField(max_length=16, choices=PostFate.choices)
    # reschedule: the new time; release: NULL (keeps its time) unless publish_now.
    scheduled_at = models.DateTimeField(null=True, blank=True)
    publish_now = models.BooleanField(default=False)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["crisis", "post"]
        constraints = [models.UniqueConstraint(fields=["crisis", "post"], name="one_decision_per_post")]
        verbose_name = _("post decision")

    def __str__(self):
        return f"{self.crisis_id}/{self.post_id}: {self.decision}"
