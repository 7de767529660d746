"""Read-only admin views: every change goes through the services (API and pages), audited."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin

from .models import CrisisWatch, Sighting, WatchedAccount


@admin.register(WatchedAccount)
class WatchedAccountAdmin(ReadOnlyAdmin):
    list_display = (
        "url",
        "network",
        "kind",
        "department",
        "registration",
        "active",
        "last_good_read_at",
        "last_error",
    )
    list_filter = ("kind", "network", "registration", "active")
    search_fields = ("url", "department")


@admin.register(Sighting)
class SightingAdmin(ReadOnlyAdmin):
    list_display = ("account", "crisis", "kind", "verdict", "status", "published_at")
    list_filter = ("kind", "verdict", "status")
    search_fields = ("text", "url")


@admin.register(CrisisWatch)
class CrisisWatchAdmin(ReadOnlyAdmin):
    list_display = ("crisis", "owners_told_at", "owners", "accounts")
