from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self):
        from django.contrib.auth import get_user_model

        from . import signals

        post_migrate.connect(signals.sync_dco_group_permissions, dispatch_uid="accounts.dco_permissions")
        m2m_changed.connect(
            signals.dco_is_staff,
            sender=get_user_model().groups.through,
            dispatch_uid="accounts.dco_is_staff",
        )
