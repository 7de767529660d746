from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

from apps.audit.services import audit_record

from .models import StaffProfile
from .roles import ROLES


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return list(ROLES.items())

    def queryset(self, request, queryset):
        return queryset.filter(groups__name=self.value()) if self.value() else queryset


User = get_user_model()
admin.site.unregister(User)

# Never copied into the audit trail.
_SECRET_FIELDS = {"password", "password1", "password2"}


def _role_names(user) -> list[str]:
    return sorted(set(user.groups.values_list("name", flat=True)) & set(ROLES))


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """Users changed here are audited like any other change (the admin wraps each save in one
    transaction, so the entry commits with it)."""

    inlines = [StaffProfileInline]
    list_display = ["username", "email", "first_name", "last_name", "department", "is_active"]
    list_filter = [RoleFilter, "is_active", "is_staff", "staff_profile__language"]
    list_select_related = ["staff_profile"]
    search_fields = ["username", "email", "first_name", "last_name", "staff_profile__department"]

    def get_readonly_fields(self, request, obj=None):
        # A DCO manages people, not privileges: staff status follows the dco role (signals.py).
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_staff", "is_superuser", "user_permissions"]
        return readonly

    @admin.display(ordering="staff_profile__department")
    def department(self, user):
        profile = getattr(user, "staff_profile", None)
        return profile.department if profile else ""

    def save_model(self, request, obj, form, change):
        request._audit_roles_before = _role_names(obj) if change and obj.pk else []
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        before, after = getattr(request, "_audit_roles_before", []), _role_names(user)
        fields = sorted(set(form.changed_data) - _SECRET_FIELDS - {"groups"})
        for formset in formsets:
            for inline_form in formset.forms:
                fields += sorted(f"profile.{name}" for name in inline_form.changed_data)
        details = {"fields": fields, "via": "admin"}
        if before != after:
            details["roles"] = [before, after]
        if _SECRET_FIELDS & set(form.changed_data):
            details["password_changed"] = True
        audit_record(
            actor=request.user,
            action="account.update" if change else "account.create",
            obj=user,
            details=details,
        )

    @transaction.atomic
    def delete_model(self, request, obj):
        audit_record(
            actor=request.user,
            action="account.delete",
            obj=obj,
            details={"username": obj.username, "email": obj.email, "via": "admin"},
        )
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for user in queryset:
            audit_record(
                actor=request.user,
                action="account.delete",
                obj=user,
                details={"username": user.username, "email": user.email, "via": "admin"},
            )
        super().delete_queryset(request, queryset)
