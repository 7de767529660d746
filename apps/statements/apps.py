from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatementsConfig(AppConfig):
    name = "apps.statements"
    label = "statements"
    verbose_name = _("Statements and spokespersons")

    def ready(self):
        try:
            from apps.crises.report import register_report_section
        except ImportError:  # the crisis report module is being written in parallel
            return
        from .selectors import statements_report

        register_report_section("statements", statements_report)
