"""Admin: chains are edited here (steps inline); everything else is read-only, because its
state changes go through the services (rights check + audit entry). Nothing of the record is
deleted here: statements, revisions, approvals, decisions, mandates and their links have no
delete permission (no "delete selected" action either), and a chain that ran cannot be deleted."""

from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.audit.services import audit_record

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


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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


@admin.register(ValidationChain)
class ValidationChainAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default"]
    inlines = [ChainStepInline]

    def save_model(self, request, obj, form, change):
        if obj.is_default:  # one default chain: choosing a new one demotes the old one
            ValidationChain.objects.exclude(pk=obj.pk).filter(is_default=True).update(is_default=False)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        chain = form.instance
        # The admin's change view runs in one transaction: the entry commits with the change.
        with transaction.atomic():
            audit_record(
                actor=request.user,
                action="chain.change" if change else "chain.create",
                obj=chain,
                details={
                    "name": chain.name,
                    "is_default": chain.is_default,
                    "steps": [
                        {
                            "order": s.order,
                            "name": s.name,
                            "role": s.role,
                            "users": sorted(u.pk for u in s.users.all()),
                            "rule": s.rule,
                        }
                        for s in chain.steps.order_by("order")
                    ],
                },
            )

    def has_delete_permission(self, request, obj=None):
        # Evidence is never deleted: a chain that ran stays (PROTECT also refuses it).
        return not _chain_used(obj) and super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit_record(actor=request.user, action="chain.delete", obj=obj, details={"name": obj.name})
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The "delete selected" action bypasses delete_model: audit each chain it removes.
        with transaction.atomic():
            for chain in queryset:
                audit_record(
                    actor=request.user, action="chain.delete", obj=chain, details={"name": chain.name}
                )
            super().delete_queryset(request, queryset)


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
