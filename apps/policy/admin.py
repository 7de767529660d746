"""The DCO edits rules and embargoes here; every save goes through services.py (audit + cache bump)."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.roles import DCO, has_role
from apps.posts.models import Network
from crisiscomm.api import ServiceError

from . import services
from .models import Embargo, PolicyRule


class DCOAdminMixin:
    """Only the DCO (or a superuser) sees or changes the policy in the admin."""

    def _allowed(self, request):
        return request.user.is_active and (request.user.is_superuser or has_role(request.user, DCO))

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request)

    def _run(self, request, action):
        try:
            return action()
        except ServiceError as exc:
            # Validation already ran in the form; this is a rights or state error: say it, save nothing.
            self.message_user(request, exc.message, level=messages.ERROR)
            return None


class PolicyRuleForm(forms.ModelForm):
    # Ticked boxes rather than a JSON list to type.
    networks = forms.MultipleChoiceField(
        label=_("networks"),
        choices=Network.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every network."),
    )

    class Meta:
        model = PolicyRule
        fields = list(services.RULE_FIELDS)


@admin.register(PolicyRule)
class PolicyRuleAdmin(DCOAdminMixin, admin.ModelAdmin):
    form = PolicyRuleForm
    list_display = ["code", "kind", "severity", "condition", "account_kind", "enabled", "updated_at"]
    list_filter = ["enabled", "kind", "severity", "condition", "account_kind"]
    search_fields = ["code", "patterns", "message_fr", "message_en"]
    list_editable = ["enabled"]
    fieldsets = [
        (None, {"fields": ["code", "enabled", "kind", "severity", "patterns"]}),
        (_("Scope"), {"fields": ["networks", "account_kind", "condition", "on_photo"]}),
        (_("Explanation"), {"fields": ["message_fr", "message_en", "guide", "quote_match"]}),
    ]

    def save_model(self, request, obj, form, change):
        if change:
            changes = {
                name: form.cleaned_data[name] for name in form.changed_data if name in services.RULE_FIELDS
            }
            self._run(
                request, lambda: services.policy_rule_update(actor=request.user, rule=obj, changes=changes)
            )
        else:
            fields = {name: getattr(obj, name) for name in services.RULE_FIELDS}
            created = self._run(request, lambda: services.policy_rule_create(actor=request.user, **fields))
            if created is not None:
                obj.pk = created.pk

    def delete_model(self, request, obj):
        self._run(request, lambda: services.policy_rule_delete(actor=request.user, rule=obj))

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            self.delete_model(request, rule)


class EmbargoForm(forms.ModelForm):
    class Meta:
        model = Embargo
        fields = ["topic", "terms", "until", "note"]

    def clean_until(self):
        until = self.cleaned_data["until"]
        if self.instance.pk is None and until <= timezone.now():
            raise forms.ValidationError(_("An embargo must end in the future."))
        return until


@admin.register(Embargo)
class EmbargoAdmin(DCOAdminMixin, admin.ModelAdmin):
    form = EmbargoForm
    list_display = ["topic", "until", "is_running", "created_by", "updated_at"]
    search_fields = ["topic", "terms"]
    date_hierarchy = "until"
    fields = ["topic", "terms", "until", "note"]

    @admin.display(boolean=True, description=_("running"))
    def is_running(self, obj):
        return obj.until > timezone.now()

    def save_model(self, request, obj, form, change):
        if change:
            changes = {
                name: form.cleaned_data[name] for name in form.changed_data if name in services.EMBARGO_FIELDS
            }
            self._run(
                request, lambda: services.embargo_update(actor=request.user, embargo=obj, changes=changes)
            )
        else:
            created = self._run(
                request,
                lambda: services.embargo_create(
                    actor=request.user, topic=obj.topic, terms=obj.terms, until=obj.until, note=obj.note
                ),
            )
            if created is not None:
                obj.pk = created.pk

    def delete_model(self, request, obj):
        self._run(request, lambda: services.embargo_delete(actor=request.user, embargo=obj))

    def delete_queryset(self, request, queryset):
        for embargo in queryset:
            self.delete_model(request, embargo)
