"""The `dco` role opens the Django admin: its holders are staff (is_staff), and the dco group
holds the model permissions of crisiscomm's apps (each app's admin still restricts what its
models allow: the audit trail, for one, is read-only)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from .roles import DCO

# Permissions of these apps go to the dco group, plus managing users (not deleting them: their
# records outlive them) and seeing the role groups.
DCO_APPS = ("accounts", "audit", "posts", "crises", "notifications", "statements", "policy", "web")
DCO_EXTRA = Q(content_type__app_label="auth", content_type__model="user") & ~Q(codename="delete_user") | Q(
    content_type__app_label="auth", codename="view_group"
)


def dco_permissions():
    return Permission.objects.filter(Q(content_type__app_label__in=DCO_APPS) | DCO_EXTRA)


def sync_dco_group_permissions(sender=None, using="default", **kwargs):
    """post_migrate: after every migration run, the dco group holds the current permissions
    (new models of any app included). Idempotent."""
    group = Group.objects.using(using).filter(name=DCO).first()
    if group is None:
        return
    group.permissions.add(*dco_permissions().using(using))


def dco_is_staff(sender, instance, action, pk_set, reverse, **kwargs):
    """m2m_changed on User.groups: joining dco makes a user staff; leaving it (not a superuser)
    takes that away. Covers the admin, SSO and any groups.add/remove/set/clear."""
    if action not in ("post_add", "post_remove", "post_clear") or reverse:
        return
    sync_is_staff([instance.pk])


def sync_is_staff(user_ids):
    User = get_user_model()
    users = User.objects.filter(pk__in=user_ids)
    users.filter(groups__name=DCO, is_staff=False).update(is_staff=True)
    users.exclude(groups__name=DCO).filter(is_staff=True, is_superuser=False).update(is_staff=False)
