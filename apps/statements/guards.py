"""A post is exempt only as the approved text of a statement: refuse any save that would make an
exempt, statement-linked post say something else (or go to another account) than the revision
that was approved. Connected in StatementsConfig.ready(); posts knows nothing of statements, so
this guard lives here and watches the Post model."""

from django.utils.translation import gettext as _

from crisiscomm.api import ConflictError

WATCHED = {"body", "account", "account_id"}


def guard_statement_post(sender, instance, update_fields=None, **kwargs):
    # Only exempt posts pass the closed gate; a non-exempt post needs no check (and no query).
    if not instance.exempt or instance.pk is None:
        return
    if update_fields is not None and not (set(update_fields) & WATCHED):
        return
    from .models import StatementPost

    link = StatementPost.objects.filter(post_id=instance.pk).select_related("revision").first()
    if link is None:
        return
    rev = link.revision
    if instance.body != rev.body or instance.account_id not in rev.account_ids:
        raise ConflictError(
            _("This post is the approved text of statement #%(id)s; change the statement instead.")
            % {"id": link.statement_id}
        )
