from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WatchConfig(AppConfig):
    name = "apps.watch"
    label = "watch"
    verbose_name = _("Watch of professional accounts")

    def ready(self):
        from django.db.models.signals import post_save

        from apps.crises.models import Crisis
        from apps.crises.report import register_report_section

        from .selectors import sightings_for_report
        from .services import on_crisis_saved

        register_report_section("sightings", sightings_for_report)
        post_save.connect(on_crisis_saved, sender=Crisis, dispatch_uid="watch.on_crisis_saved")
