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
from django.contrib.auth.forms import AdminPasswordChangeForm

from .events import current_request
from .models import SSOIdentity, StaffProfile
from .roles import ROLES, combines_exclusive_roles, exclusive_roles_message, is_user_administrator
from .services import (
    PROFILE_FIELDS,
    sso_identity_link,
    sso_identity_unlink,
    user_create,
    user_password_set,
    user_update,
)


class ServicePasswordChangeForm(AdminPasswordChangeForm):
    """The admin's password page sets the password through user_password_set (rights, audit)."""

    def save(self, commit=True):
        usable = self.cleaned_data.get("set_usable_password", True)
        password = self.cleaned_data.get("password1") if usable else None
        # The admin's password view gives its form no request; the middleware's context does.
        actor = current_request.get().user
        self.user = user_password_set(actor=actor, user=self.user, password=password)
        return self.user


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


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    """The pages gather what the user administrator typed; the accounts services write it (rights
    checked, audited in the admin's transaction): user_create, user_update (fields, profile,
    roles), user_password_set, sso_identity_link/unlink. Nothing here saves a row itself."""

    change_password_form = ServicePasswordChangeForm

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
        # Sign-in dates are the record's, not the administrator's to edit.
        readonly = [*super().get_readonly_fields(request, obj), "last_login", "date_joined"]
        if not request.user.is_superuser:
            readonly += ["is_staff", "is_superuser", "user_permissions"]
        return readonly

    @admin.display(ordering="staff_profile__department")
    def department(self, user):
        profile = getattr(user, "staff_profile", None)
        return profile.department if profile else ""

    def save_model(self, request, obj, form, change):
        if change:
            return  # the whole change (fields, profile, roles) is one user_update in save_related
        usable = form.cleaned_data.get("set_usable_password", True)
        user = user_create(
            actor=request.user,
            username=obj.username,
            password=form.cleaned_data.get("password1") if usable else None,
            email=obj.email,
            first_name=obj.first_name,
            last_name=obj.last_name,
            door="admin",
        )
        # The admin goes on with `obj` (inlines, messages, redirect): make it the row just made.
        obj.pk, obj.password, obj._state.adding, obj._state.db = user.pk, user.password, False, user._state.db

    def save_related(self, request, form, formsets, change):
        user = form.instance
        data = {}
        for name in form.changed_data if change else ():
            if name == "groups":
                data["roles"] = {g.name for g in form.cleaned_data["groups"]} & set(ROLES)
            elif name == "user_permissions":
                data[name] = list(form.cleaned_data[name])
            elif name != "password":  # the change page shows the hash, read-only
                data[name] = form.cleaned_data[name]
        links = []
        for formset in formsets:
            # What formset.save() would have recorded for the admin's history message: the
            # services write instead, and the audit trail holds the detail.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            for inline in formset.forms:
                if not inline.has_changed() and not formset._should_delete_form(inline):
                    continue
                if formset.model is StaffProfile:
                    data["profile"] = {
                        k: inline.cleaned_data[k] for k in inline.changed_data if k in PROFILE_FIELDS
                    }
                elif formset.model is SSOIdentity:
                    links.append((inline, formset._should_delete_form(inline)))
        if data:
            user_update(actor=request.user, user=user, data=data, door="admin")
        for inline, delete in links:
            old = inline.instance if inline.instance.pk else None
            if old is not None:  # a changed link is the old one undone and the new one made
                sso_identity_unlink(actor=request.user, identity=old)
            if not delete:
                sso_identity_link(
                    actor=request.user,
                    user=user,
                    issuer=inline.cleaned_data["issuer"],
                    subject=inline.cleaned_data["subject"],
                )
