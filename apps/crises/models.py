from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CrisisStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    LIFTING = "lifting", _("lifting")
    CLOSED = "closed", _("closed")


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

    class Meta:
        ordering = ["-declared_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_open"], name="one_open_crisis"),
            models.CheckConstraint(
                condition=models.Q(severity__gte=1, severity__lte=3), name="crisis_severity_1_to_3"
            ),
        ]
        verbose_name = _("crisis")
        verbose_name_plural = _("crises")

    def __str__(self):
        return self.title
