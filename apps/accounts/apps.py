from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self):
        from django.contrib.auth import get_user_model

        from . import events, signals

        post_migrate.connect(signals.sync_role_group_permissions, dispatch_uid="accounts.role_permissions")
        through = get_user_model().groups.through
        m2m_changed.connect(signals.refuse_exclusive_roles, sender=through, dispatch_uid="accounts.exclusive")
        m2m_changed.connect(signals.dco_is_staff, sender=through, dispatch_uid="accounts.dco_is_staff")
        events.connect()
