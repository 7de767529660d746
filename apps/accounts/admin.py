"""The Django admin's user pages. Who may enter: holders of `dco` or `admin` (is_staff follows
those roles, signals.py) and superusers. What each sees:

- `dco`: the people, read-only (the directory), beside the crisis apps it runs;
- `admin` (user administrator): adds and changes people, their roles, active status, passwords
  and SSO links; never a superuser's account, superuser status or individual permissions;
- superuser: everything.

No grant ever leaves one person with both `admin` and `dco` (separation of duties)."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from apps.audit.services import audit_record

from .models import SSOIdentity, StaffProfile
from .roles import ROLES, combines_exclusive_roles, exclusive_roles_message, is_user_administrator
from .services import audit_roles_change


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False


class SSOIdentityInline(admin.TabularInline):
    """Linking an administrative account to single sign-on is a user administrator's act."""

    model = SSOIdentity
    extra = 0
    readonly_fields = ["linked_at"]


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

    inlines = [StaffProfileInline, SSOIdentityInline]
    list_display = ["username", "email", "first_name", "last_name", "department", "is_active"]
    list_filter = [RoleFilter, "is_active", "is_staff", "staff_profile__language"]
    list_select_related = ["staff_profile"]
    search_fields = ["username", "email", "first_name", "last_name", "staff_profile__department"]

    def has_add_permission(self, request):
        return is_user_administrator(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        # The password form (…/password/) asks the same question: a dco never sets one.
        if not is_user_administrator(request.user):
            return False
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # People are never deleted, not even by a superuser: their records (decisions,
        # acknowledgements, audit entries) outlive them. Deactivate instead.
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "groups" not in form.base_fields:
            return form

        class SeparationOfDutiesForm(form):
            def clean_groups(self):
                groups = self.cleaned_data.get("groups")
                if groups is not None and combines_exclusive_roles(g.name for g in groups):
                    raise forms.ValidationError(exclusive_roles_message(), code="exclusive_roles")
                return groups

        return SeparationOfDutiesForm

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
        audit_roles_change(actor=request.user, user=user, before=before, after=after, door="admin")
