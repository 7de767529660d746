"""The logical-freeze migration (posts 0004) on rows written by the first edition: stored `frozen`
becomes `scheduled` (it reads `frozen` again through the selector while the gate stays closed),
and unsent exempt posts are bound to the closure in force."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("posts", "0003_frozen_by_no_db_constraint")]
AFTER = [("posts", "0004_remove_post_frozen_by_post_exempt_closure_and_more")]


def _latest(executor):
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_first_edition_rows_are_carried_over():
    """Mutation: the RunSQL turning stored `frozen` into `scheduled` removed -> the constraint
    post_frozen_is_derived refuses the migration, this test fails."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        Account, Closure, Post = (old.get_model("posts", m) for m in ("SocialAccount", "GateClosure", "Post"))
        from django.utils import timezone

        account = Account.objects.create(network="x", handle="@a", connector="manual", config={})
        closure = Closure.objects.create(reason="crisis", closed_at=timezone.now(), is_current=True)
        frozen = Post.objects.create(
            account=account, body="f", scheduled_at=timezone.now(), status="frozen", frozen_by=closure
        )
        statement = Post.objects.create(account=account, body="s", scheduled_at=timezone.now(), exempt=True)
        sent = Post.objects.create(
            account=account, body="p", scheduled_at=timezone.now(), exempt=True, status="published"
        )
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps.get_model("posts", "Post")
        assert new.objects.get(pk=frozen.pk).status == "scheduled"
        assert new.objects.get(pk=statement.pk).exempt_closure_id == closure.pk
        assert new.objects.get(pk=sent.pk).exempt_closure_id is None
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(_latest(executor))
