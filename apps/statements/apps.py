from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatementsConfig(AppConfig):
    name = "apps.statements"
    label = "statements"
    verbose_name = _("Statements and spokespersons")

    def ready(self):
        from apps.crises.report import register_report_section

        from .selectors import statements_report

        register_report_section("statements", statements_report)
