"""Hooks statements puts on posts.Post (posts knows nothing of statements or approvals, so they
live here and watch the Post model; connected in StatementsConfig.ready()).

- guard_approved_post (pre_save): a calendar post's approval is bound to what was approved (body,
  account, time); a save that changes one of them voids the run and holds the post again.
- sync_statement_published (post_save): a statement is `published` once its last post is out;
  a statement post that now waits for a person (a to-do by hand, a refusal for good) tells them.

An exempt post's text and account need no hook: posts' post_update refuses to change them (the
exempt flag is posts' own data) and the trigger of migration 0007 refuses every other door.
"""

# What a calendar post's approval covers.
APPROVAL_BOUND = {"body", "account", "account_id", "scheduled_at"}


def guard_approved_post(sender, instance, update_fields=None, raw=False, **kwargs):
    # Saves that leave body, account and time alone (the publisher's) cost no query.
    if raw or instance.pk is None:
        return
    if update_fields is not None and not (set(update_fields) & APPROVAL_BOUND):
        return
    from .services import post_runs_void_if_changed

    post_runs_void_if_changed(post=instance)


def sync_statement_published(sender, instance, created=False, update_fields=None, raw=False, **kwargs):
    from apps.posts.models import PostStatus

    if raw or created:
        return
    fields = set(update_fields) if update_fields is not None else None
    if instance.status == PostStatus.PUBLISHED and (fields is None or "status" in fields):
        from .services import statement_sync_published

        statement_sync_published(post_id=instance.pk)
    elif (
        instance.status == PostStatus.PUBLISHING and instance.assignee_id and fields and "assignee" in fields
    ) or (instance.status == PostStatus.FAILED and fields and "status" in fields):
        # Only the saves that make it so (the publisher's, a hand-over), not every later save.
        from .services import statement_post_needs_person

        statement_post_needs_person(post=instance, told_by=getattr(instance, "_told_by", None))
