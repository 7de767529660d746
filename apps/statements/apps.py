from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatementsConfig(AppConfig):
    name = "apps.statements"
    label = "statements"
    verbose_name = _("Statements and spokespersons")

    def ready(self):
        from django.db.models.signals import post_save, pre_save

        from apps.crises.report import register_report_section, register_timeline_subjects
        from apps.posts.models import Post

        from .guards import guard_approved_post, sync_statement_published
        from .selectors import statements_report, statements_timeline_subjects

        register_report_section("statements", statements_report)
        register_timeline_subjects("statements", statements_timeline_subjects)
        pre_save.connect(guard_approved_post, sender=Post, dispatch_uid="statements.guard_approved_post")
        post_save.connect(
            sync_statement_published, sender=Post, dispatch_uid="statements.sync_statement_published"
        )
