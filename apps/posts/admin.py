"""Admin: read-mostly. State changes go through apps.posts.services (audited), not the admin."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ReadOnlyAdmin

from .models import GateClosure, Post, PostStatus, SocialAccount
from .selectors import with_state


@admin.register(SocialAccount)
class SocialAccountAdmin(ReadOnlyAdmin):
    list_display = ["handle", "network", "connector", "is_active"]
    list_filter = ["network", "connector", "is_active"]
    search_fields = ["handle"]
    # config holds secrets: never shown.
    exclude = ["config"]


@admin.register(Post)
class PostAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "scheduled_at", "state", "exempt", "published_at"]

    def get_queryset(self, request):
        # `frozen` is derived from the gate, never stored: show what every other reader shows.
        return with_state(queryset=super().get_queryset(request))

    @admin.display(description=_("status"), ordering="status")
    def state(self, post):
        return PostStatus(post.state).label

    list_filter = ["status", "exempt", "account__network"]
    list_select_related = ["account"]
    search_fields = ["body"]
    date_hierarchy = "scheduled_at"


@admin.register(GateClosure)
class GateClosureAdmin(ReadOnlyAdmin):
    list_display = ["reason", "closed_at", "opened_at", "is_current"]
