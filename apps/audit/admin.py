from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["sequence", "created_at", "actor_repr", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["action", "object_id", "actor_repr"]
