"""Read-only admin views: every change goes through the services (API and pages), audited."""

from django.contrib import admin

from .models import CrisisWatch, Sighting, WatchedAccount


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
