"""Admin building blocks shared by every app."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin page that shows and never writes: state changes go through the app's services,
    which check rights and write the audit entry the admin would skip."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
