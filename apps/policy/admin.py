"""The DCO edits rules and embargoes here; every save goes through services.py (audit + cache bump)."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ServiceError
from apps.posts.models import Network

from . import services
from .models import Embargo, PolicyRule, Ruling


class DCOAdminMixin:
    """Only those the policy services let act (policy_allowed_actions: the DCO) see or change the
    policy in the admin. Saves and deletions go through the services each admin names
    (service_create/update/delete), which check the same right and audit."""

    service_fields: tuple[str, ...] = ()  # the fields a change form passes to service_update

    def _allowed(self, request):
        return bool(services.policy_allowed_actions(user=request.user))

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

    def _changes(self, form) -> dict:
        return {name: form.cleaned_data[name] for name in form.changed_data if name in self.service_fields}

    def service_create(self, *, actor, obj):
        raise NotImplementedError

    def service_update(self, *, actor, obj, data):
        raise NotImplementedError

    def service_delete(self, *, actor, obj):
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        if change:
            data = self._changes(form)
            self._run(request, lambda: self.service_update(actor=request.user, obj=obj, data=data))
        else:
            created = self._run(request, lambda: self.service_create(actor=request.user, obj=obj))
            if created is not None:
                obj.pk = created.pk

    def delete_model(self, request, obj):
        self._run(request, lambda: self.service_delete(actor=request.user, obj=obj))

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class PolicyRuleForm(forms.ModelForm):
    # Ticked boxes rather than a JSON list to type.
    networks = forms.MultipleChoiceField(
        label=_("networks"),
        choices=Network.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every network."),
    )

    suppresses = forms.MultipleChoiceField(
        label=_("lifts these rules"),
        choices=(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "When this rule fires, the ticked rules are lifted (relaying the official statement lifts the "
            "crisis freeze); rules not ticked still apply."
        ),
    )

    class Meta:
        model = PolicyRule
        fields = list(services.RULE_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        codes = PolicyRule.objects.exclude(pk=self.instance.pk).values_list("code", flat=True)
        self.fields["suppresses"].choices = [(code, code) for code in codes]


@admin.register(PolicyRule)
class PolicyRuleAdmin(DCOAdminMixin, admin.ModelAdmin):
    form = PolicyRuleForm
    service_fields = services.RULE_FIELDS
    list_display = ["code", "kind", "severity", "condition", "account_kind", "enabled", "updated_at"]
    list_filter = ["enabled", "kind", "severity", "condition", "account_kind"]
    search_fields = ["code", "patterns", "message_fr", "message_en"]
    # No list_editable: every change goes through the form, so that its effect is shown first.
    fieldsets = [
        (None, {"fields": ["code", "enabled", "kind", "severity", "patterns"]}),
        (_("Scope"), {"fields": ["networks", "account_kind", "condition", "on_photo", "suppresses"]}),
        (
            _("Explanation"),
            {
                "fields": [
                    "message_fr",
                    "message_en",
                    "guide",
                    "passage_fr",
                    "passage_en",
                    "advice_fr",
                    "advice_en",
                    "quote_match",
                ]
            },
        ),
    ]
    # The change form has a "Preview" button: the rulings the change would newly break or fix, shown
    # before anything is saved (preview_view), with a button that saves it as previewed.
    change_form_template = "admin/policy/policyrule/change_form.html"
    delete_confirmation_template = "admin/policy/policyrule/delete_confirmation.html"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A valid change is not saved at once: its effect on the recorded rulings is shown first
        (preview_view), whose button posts it again with `_confirmed`. An invalid one gets the admin's
        own error display."""
        if request.method == "POST" and "_confirmed" not in request.POST:
            obj = self.get_object(request, object_id) if object_id else None
            if object_id is None or obj is not None:
                form = self.get_form(request, obj)(request.POST, request.FILES, instance=obj)
                if form.is_valid():
                    return self.preview_view(request, object_id)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        """The deletion's confirmation page shows its effect on the recorded rulings too."""
        from . import selectors

        obj = self.get_object(request, object_id)
        if obj is not None and request.method == "GET" and self._allowed(request):
            impact = selectors.rule_change_preview(code=obj.code, delete=True)
            extra_context = {**(extra_context or {}), "impact": impact}
        return super().delete_view(request, object_id, extra_context)

    def get_urls(self):
        from django.urls import path

        preview = self.admin_site.admin_view(self.preview_view)
        return [
            path("add/preview/", preview, name="policy_policyrule_preview_add"),
            path("<path:object_id>/change/preview/", preview, name="policy_policyrule_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request, object_id=None):
        """The change as posted by the change form, replayed against the recorded rulings; nothing saved."""
        from django.core.exceptions import PermissionDenied
        from django.template.response import TemplateResponse
        from django.urls import reverse

        from . import selectors

        if request.method != "POST" or not self._allowed(request):
            raise PermissionDenied
        obj = self.get_object(request, object_id) if object_id else None
        form = self.get_form(request, obj)(request.POST, instance=obj)
        impact, errors = None, []
        if form.is_valid():
            if obj is None:
                code, changes = form.cleaned_data["code"], dict(form.cleaned_data)
            else:
                code, changes = obj.code, self._changes(form)
            try:
                impact = selectors.rule_change_preview(code=code, changes=changes)
            except ServiceError as exc:
                errors = [exc.message]
        else:
            errors = [f"{name}: {' '.join(messages)}" for name, messages in form.errors.items()]
        target = (
            reverse("admin:policy_policyrule_change", args=[obj.pk])
            if obj
            else reverse("admin:policy_policyrule_add")
        )
        posted = [
            (name, value)
            for name, values in request.POST.lists()
            if name
            not in ("csrfmiddlewaretoken", "_preview", "_confirmed", "_save", "_continue", "_addanother")
            for value in values
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Effect of this change on the rulings"),
            "original": obj,
            "impact": impact,
            "errors": errors,
            "posted": posted,
            "target": target,
        }
        return TemplateResponse(
            request, "admin/policy/policyrule/preview.html", context, status=400 if errors else 200
        )

    def service_create(self, *, actor, obj):
        return services.policy_rule_create(
            actor=actor, **{name: getattr(obj, name) for name in services.RULE_FIELDS}
        )

    def service_update(self, *, actor, obj, data):
        return services.policy_rule_update(actor=actor, rule=obj, data=data)

    def service_delete(self, *, actor, obj):
        return services.policy_rule_delete(actor=actor, rule=obj)


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
    service_fields = services.EMBARGO_FIELDS
    list_display = ["topic", "until", "is_running", "created_by", "updated_at"]
    search_fields = ["topic", "terms"]
    date_hierarchy = "until"
    fields = ["topic", "terms", "until", "note"]

    @admin.display(boolean=True, description=_("running"))
    def is_running(self, obj):
        return obj.until > timezone.now()

    def service_create(self, *, actor, obj):
        return services.embargo_create(
            actor=actor, topic=obj.topic, terms=obj.terms, until=obj.until, note=obj.note
        )

    def service_update(self, *, actor, obj, data):
        return services.embargo_update(actor=actor, embargo=obj, data=data)

    def service_delete(self, *, actor, obj):
        return services.embargo_delete(actor=actor, embargo=obj)


@admin.register(Ruling)
class RulingAdmin(DCOAdminMixin, admin.ModelAdmin):
    """The rulings, read-only here (they are recorded on the pre-check page or through the API);
    deleting one goes through the service, audited."""

    list_display = [
        "pk",
        "short_text",
        "network",
        "account_kind",
        "crisis",
        "verdict",
        "check_verdict",
        "created_by",
        "created_at",
    ]
    list_filter = ["verdict", "check_verdict", "crisis", "account_kind", "network", "source"]
    search_fields = ["text", "comment"]
    readonly_fields = Ruling.RECORD_FIELDS

    @admin.display(description=_("text"))
    def short_text(self, obj):
        return obj.text[:80]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def service_delete(self, *, actor, obj):
        return services.ruling_delete(actor=actor, ruling=obj)
