"""Admin: read-only views of the outbox, the deliveries and the acknowledgements (evidence:
nothing here deletes them, no delete action, no delete permission); webhooks change through
services."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models

from apps.accounts.roles import DCO, has_role
from apps.core import outbound

from . import services
from .models import Acknowledgement, Notice, NoticeEvent, TeamWebhook


class EvidenceAdmin(admin.ModelAdmin):
    """Read-only and never deleted, by anyone, superusers included."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(NoticeEvent)
class NoticeEventAdmin(EvidenceAdmin):
    list_display = ["id", "event", "crisis_id", "reminder_round", "created_at", "materialised_at"]
    list_filter = ["event"]
    readonly_fields = [f.name for f in NoticeEvent._meta.fields]


@admin.register(Notice)
class NoticeAdmin(EvidenceAdmin):
    list_display = [
        "id",
        "event",
        "channel",
        "user",
        "webhook",
        "status",
        "attempts",
        "sent_at",
        "acknowledged_at",
    ]
    list_filter = ["channel", "status"]
    search_fields = ["user__username", "user__email", "department"]
    raw_id_fields = ["event", "user", "webhook"]
    list_select_related = ["event", "user", "webhook"]


@admin.register(Acknowledgement)
class AcknowledgementAdmin(EvidenceAdmin):
    list_display = ["id", "event", "user", "department", "via", "acknowledged_at", "sealed_at"]
    list_filter = ["via"]
    search_fields = ["user__username", "department"]
    raw_id_fields = ["event", "user"]
    list_select_related = ["event", "user"]


def _outbound_url(value):
    try:
        outbound.validate_url(value, field="url")
    except outbound.OutboundRefused as exc:
        raise ValidationError(exc.message, code=exc.code) from exc


@admin.register(TeamWebhook)
class TeamWebhookAdmin(admin.ModelAdmin):
    """Changes go through the services (DCO check, audit entry): only a dco changes webhooks."""

    list_display = ["name", "kind", "department", "language", "is_active"]
    list_filter = ["kind", "is_active"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request):
        return has_role(request.user, DCO) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return has_role(request.user, DCO) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return has_role(request.user, DCO) and super().has_delete_permission(request, obj)

    def get_fields(self, request, obj=None):
        return ["name", "kind", "url", "department", "language", "is_active"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        # outbound: a private or loopback target is a form error here, not a failed save.
        form.base_fields["url"].validators.append(_outbound_url)
        if obj is not None:
            # The URL is a secret: never shown back; leave empty to keep the current one.
            form.base_fields["url"].required = False
            form.base_fields["url"].help_text = "Write-only: leave empty to keep the current URL."
        return form

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._stored_url, obj.url = obj.url, ""
        return obj

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in self.get_fields(request, obj)}
        if change:
            stored = TeamWebhook.objects.get(pk=obj.pk)
            if not fields["url"]:
                fields["url"] = stored.url
            services.team_webhook_update(actor=request.user, webhook=stored, data=fields)
            obj.pk = stored.pk
        else:
            created = services.team_webhook_create(actor=request.user, **fields)
            obj.pk = created.pk

    def delete_model(self, request, obj):
        services.team_webhook_delete(actor=request.user, webhook=TeamWebhook.objects.get(pk=obj.pk))
