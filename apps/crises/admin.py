"""Admin: read-only. Crises change only through apps.crises.services (audited, four eyes)."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin

from .models import Crisis, PostDecision


@admin.register(Crisis)
class CrisisAdmin(ReadOnlyAdmin):
    list_display = ["title", "severity", "status", "declared_at", "freeze_until", "closed_at"]
    list_filter = ["status", "severity"]
    search_fields = ["title"]


@admin.register(PostDecision)
class PostDecisionAdmin(ReadOnlyAdmin):
    list_display = ["crisis", "post", "decision", "scheduled_at", "publish_now", "decided_by", "decided_at"]
    list_filter = ["decision"]
    list_select_related = ["crisis", "post", "decided_by"]
