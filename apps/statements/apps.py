from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatementsConfig(AppConfig):
    name = "apps.statements"
    label = "statements"
    verbose_name = _("Statements and spokespersons")

    def ready(self):
        from apps.crises.report import register_report_section, register_timeline_subjects
        from apps.posts.listeners import register_content_change, register_outcome

        from .post_approvals import post_runs_void_if_changed
        from .publishing import statement_post_outcome
        from .selectors import statements_report, statements_timeline_subjects

        register_report_section("statements", statements_report)
        register_timeline_subjects("statements", statements_timeline_subjects)
        # Posts calls these explicitly where it changes a post (apps/posts/listeners.py): an
        # approval bound to a post's text, account and time; a statement following its posts.
        register_content_change("statements", post_runs_void_if_changed)
        register_outcome("statements", statement_post_outcome)
