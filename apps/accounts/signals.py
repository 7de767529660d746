"""The `dco` and `admin` roles open the Django admin: their holders are staff (is_staff), and
each group holds the model permissions of its duties (each app's admin still restricts what its
models allow: the audit trail, for one, is read-only).

Separation of duties: the dco group may only *see* people; adding and changing them (roles,
status, passwords) is the admin group's, whose permissions stop at people."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db.models import Q

from .roles import ADMIN, DCO, combines_exclusive_roles, exclusive_roles_message

DCO_APPS = ("audit", "posts", "crises", "notifications", "statements", "policy", "watch", "core", "web")
_AUTH_VIEW = Q(content_type__app_label="auth", codename__in=["view_user", "view_group"]) | Q(
    content_type__app_label="accounts", codename="view_staffprofile"
)
# People are never deleted (their records outlive them): no delete_user for anyone but superusers.
_USER_ADMIN = (
    Q(content_type__app_label="auth", codename__in=["add_user", "change_user", "view_user"])
    | Q(content_type__app_label="auth", codename="view_group")
    | Q(content_type__app_label="accounts", content_type__model__in=["staffprofile", "ssoidentity"])
)


def dco_permissions():
    return Permission.objects.filter(Q(content_type__app_label__in=DCO_APPS) | _AUTH_VIEW)


def admin_permissions():
    return Permission.objects.filter(_USER_ADMIN)


def sync_role_group_permissions(sender=None, using="default", **kwargs):
    """post_migrate: after every migration run, the dco and admin groups hold exactly their
    current permissions (new models of any app included; rights a group must not have, such as
    changing users for dco, taken away). Idempotent."""
    for name, wanted in ((DCO, dco_permissions), (ADMIN, admin_permissions)):
        group = Group.objects.using(using).filter(name=name).first()
        if group is not None:
            group.permissions.set(wanted().using(using))


def refuse_exclusive_roles(sender, instance, action, pk_set, reverse, model, **kwargs):
    """m2m_changed (pre_add) on User.groups: the last line behind every door's own check — no
    code path (shell included) gives one person both `admin` and `dco`."""
    if action != "pre_add" or not pk_set:
        return
    if reverse:  # group.user_set.add(users…)
        if instance.name not in (ADMIN, DCO):
            return
        other = ADMIN if instance.name == DCO else DCO
        if get_user_model().objects.filter(pk__in=pk_set, groups__name=other).exists():
            raise ValidationError(exclusive_roles_message(), code="exclusive_roles")
        return
    adding = set(model.objects.filter(pk__in=pk_set).values_list("name", flat=True))
    held = set(instance.groups.values_list("name", flat=True))
    if combines_exclusive_roles(adding | held):
        raise ValidationError(exclusive_roles_message(), code="exclusive_roles")


def dco_is_staff(sender, instance, action, pk_set, reverse, **kwargs):
    """m2m_changed on User.groups: joining dco or admin makes a user staff; leaving both (not a
    superuser) takes that away. Covers the admin, SSO and any groups.add/remove/set/clear."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if reverse:
        sync_is_staff(pk_set or [])
    else:
        sync_is_staff([instance.pk])


def sync_is_staff(user_ids):
    User = get_user_model()
    users = User.objects.filter(pk__in=user_ids)
    staff_roles = Q(groups__name__in=[DCO, ADMIN])
    users.filter(staff_roles, is_staff=False).update(is_staff=True)
    users.exclude(pk__in=User.objects.filter(staff_roles).values("pk")).filter(
        is_staff=True, is_superuser=False
    ).update(is_staff=False)
