from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _rules_changed(sender, **kwargs):
    from .selectors import bump_rules_version

    bump_rules_version()


class PolicyConfig(AppConfig):
    name = "apps.policy"
    label = "policy"
    verbose_name = "Pre-publication policy"

    def ready(self):
        from .models import Embargo, PolicyRule

        # Any change, through the services, the admin, loaddata or a shell, invalidates the
        # compiled matcher of every process (see selectors.bump_rules_version).
        for model in (PolicyRule, Embargo):
            post_save.connect(_rules_changed, sender=model, dispatch_uid=f"policy-bump-{model.__name__}")
            post_delete.connect(
                _rules_changed, sender=model, dispatch_uid=f"policy-bump-del-{model.__name__}"
            )
