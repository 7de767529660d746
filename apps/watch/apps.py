from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WatchConfig(AppConfig):
    name = "apps.watch"
    label = "watch"
    verbose_name = _("Watch of professional accounts")

    def ready(self):
        from django.db.models.signals import post_save

        from apps.crises.report import register_report_section
        from apps.notifications.models import NoticeEvent

        from .selectors import sightings_for_report
        from .services import on_notice_event_saved

        register_report_section("sightings", sightings_for_report)
        # The declaration's outbox row: the owners' notice is recorded right after it, in the same
        # transaction (so it is counted with the declaration's figures and never lost).
        post_save.connect(on_notice_event_saved, sender=NoticeEvent, dispatch_uid="watch.owners_told")
