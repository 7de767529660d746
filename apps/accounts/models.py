from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffProfile(models.Model):
    """What the directory knows of a person beyond Django's user. Optional: a user without one
    (created by SSO or the admin) gets the defaults below, and still receives every notice."""

    DEFAULT_LANGUAGE = "fr"
    DEFAULT_DEPARTMENT = ""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    department = models.CharField(_("department"), max_length=120, blank=True, db_index=True)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=DEFAULT_LANGUAGE
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("staff profile")

    def __str__(self):
        return f"{self.user} ({self.department or '-'})"


def profile_of(user) -> tuple[str, str]:
    """(language, department) with defaults where the profile or a detail is missing."""
    try:
        profile = user.staff_profile
    except StaffProfile.DoesNotExist:
        profile = None
    if profile is None:
        return StaffProfile.DEFAULT_LANGUAGE, StaffProfile.DEFAULT_DEPARTMENT
    return profile.language or StaffProfile.DEFAULT_LANGUAGE, profile.department


class SSOIdentity(models.Model):
    """The identity provider's account (`iss` + `sub`) linked to one of ours. Made at the first
    single sign-on (or by a user administrator in the admin); later sign-ons match on it only,
    never on the email claim again."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities"
    )
    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    linked_at = models.DateTimeField(_("linked at"), auto_now_add=True)

    class Meta:
        verbose_name = _("single sign-on identity")
        verbose_name_plural = _("single sign-on identities")
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique")]

    def __str__(self):
        return f"{self.issuer} {self.subject}"
