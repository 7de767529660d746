"""Admin: chains are edited here (steps inline, written by the chain services, DCO only);
everything else is read-only, because its state changes go through the services (rights check +
audit entry). Nothing of the record is deleted here: statements, revisions, approvals, decisions,
mandates and their links have no delete permission (no "delete selected" action either), and a
chain that ran cannot be deleted."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ReadOnlyAdmin
from apps.core.roles import DCO, has_role

from . import services
from .models import (
    ApprovalRequest,
    ChainStep,
    Decision,
    Mandate,
    Statement,
    StatementPost,
    StatementRevision,
    ValidationChain,
)


def _chain_used(chain) -> bool:
    """A chain that ran is part of the record: its decisions point at its steps."""
    return chain is not None and chain.pk is not None and chain.requests.exists()


class ChainStepInline(admin.TabularInline):
    model = ChainStep
    extra = 1
    fields = ["order", "name", "role", "users", "rule"]
    filter_horizontal = ["users"]
    ordering = ["order"]

    def has_delete_permission(self, request, obj=None):
        return not _chain_used(obj) and super().has_delete_permission(request, obj)


def _steps_from(formsets) -> list[dict]:
    """The inline rows as the chain services take them (the forms validated them; nothing saved)."""
    steps = []
    for formset in formsets:
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for form in formset.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or (form.instance.pk is None and not form.has_changed()):
                continue  # an empty extra row
            step = data.get("id")
            steps.append(
                {
                    "id": step.pk if step else None,
                    "order": data["order"],
                    "name": data["name"],
                    "role": data.get("role") or "",
                    "users": list(data.get("users") or []),
                    "rule": data["rule"],
                    "delete": bool(data.get("DELETE")),
                }
            )
    return steps


class ChainForm(forms.ModelForm):
    class Meta:
        model = ValidationChain
        fields = ["name", "description", "is_default"]

    def _get_validation_exclusions(self):
        # Choosing a new default chain demotes the old one (chain_update): the one-default
        # constraint is the service's to keep, not a reason to refuse the form.
        return super()._get_validation_exclusions() | {"is_default"}


@admin.register(ValidationChain)
class ValidationChainAdmin(admin.ModelAdmin):
    """Chains are edited here, but written by the chain services (DCO only, audited): the form and
    its inline steps are validated by the admin, then handed to chain_create/chain_update."""

    form = ChainForm
    list_display = ["name", "is_default"]
    inlines = [ChainStepInline]

    def has_add_permission(self, request):
        return has_role(request.user, DCO) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return has_role(request.user, DCO) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Evidence is never deleted: a chain that ran stays (PROTECT also refuses it).
        return (
            has_role(request.user, DCO)
            and not _chain_used(obj)
            and super().has_delete_permission(request, obj)
        )

    def save_model(self, request, obj, form, change):
        pass  # written with its steps in save_related, by the service

    def save_related(self, request, form, formsets, change):
        data = {
            field: form.cleaned_data[field] for field in services.CHAIN_FIELDS if field in form.cleaned_data
        }
        steps = _steps_from(formsets)
        if change:
            services.chain_update(actor=request.user, chain=form.instance, data=data, steps=steps)
        else:
            chain = services.chain_create(actor=request.user, data=data, steps=steps)
            form.instance.pk = chain.pk  # the admin's log entry and redirect name the new chain
            form.instance._state.adding = False

    def delete_model(self, request, obj):
        services.chain_delete(actor=request.user, chain=obj)

    def delete_queryset(self, request, queryset):
        # The "delete selected" action: each chain through the service (rights, audit entry).
        for chain in queryset:
            services.chain_delete(actor=request.user, chain=chain)


@admin.register(Mandate)
class MandateAdmin(ReadOnlyAdmin):
    list_display = ["user", "topics", "networks", "valid_from", "valid_until", "revoked_at", "granted_by"]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "user__last_name"]
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected mandates"))
    def revoke(self, request, queryset):
        done = 0
        for mandate in queryset.filter(revoked_at__isnull=True):
            services.mandate_revoke(actor=request.user, mandate=mandate, reason="admin")
            done += 1
        self.message_user(request, _("%(n)d mandates revoked.") % {"n": done}, messages.SUCCESS)

    def has_change_permission(self, request, obj=None):
        # The changelist action needs "change"; the form itself stays read-only (no fields editable).
        return obj is None and super(ReadOnlyAdmin, self).has_change_permission(request, obj)


class RevisionInline(admin.TabularInline):
    model = StatementRevision
    extra = 0
    can_delete = False
    fields = ["number", "body", "account_ids", "planned_at", "author", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class StatementPostInline(admin.TabularInline):
    model = StatementPost
    extra = 0
    can_delete = False
    fields = ["post", "revision", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    list_display = ["id", "crisis", "author", "status", "revision", "planned_at", "published_at"]
    list_filter = ["status", "crisis"]
    inlines = [RevisionInline, StatementPostInline]


@admin.register(StatementRevision)
class StatementRevisionAdmin(ReadOnlyAdmin):
    list_display = ["statement", "number", "author", "created_at"]


class DecisionInline(admin.TabularInline):
    model = Decision
    extra = 0
    can_delete = False
    fields = ["step", "revision", "actor", "verdict", "comment", "decided_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "statement", "post", "chain", "status", "current_step", "created_at"]
    list_filter = ["kind", "status", "chain"]
    inlines = [DecisionInline]


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["request", "step", "revision", "actor", "verdict", "decided_at"]
    list_filter = ["verdict"]


@admin.register(StatementPost)
class StatementPostAdmin(ReadOnlyAdmin):
    list_display = ["statement", "revision", "post", "created_at"]
