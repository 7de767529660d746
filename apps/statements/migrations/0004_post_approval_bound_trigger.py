"""A calendar post's approval is bound to what was approved (body, account, time) by every door.

The posts code that writes body, account or time calls apps.posts.listeners first, and
statements' post_runs_void_if_changed voids the run, holds the post and writes the audit entry;
this trigger is the backstop for the doors that do not (a bulk UPDATE, raw SQL): a change of body, account or time on a post with a pending or approved run
whose snapshot no longer matches voids that run and keeps the post held. The WHEN clause keeps
the cost at zero for updates that leave those three columns alone (the publisher's)."""

from django.db import migrations

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION statements_post_approval_bound() RETURNS trigger AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM statements_approvalrequest r
        WHERE r.post_id = NEW.id AND r.status IN ('pending', 'approved')
          AND (r.post_snapshot->>'body' IS DISTINCT FROM NEW.body
               OR (r.post_snapshot->>'account')::bigint IS DISTINCT FROM NEW.account_id
               OR (r.post_snapshot ? 'scheduled_at'
                   AND (r.post_snapshot->>'scheduled_at')::timestamptz IS DISTINCT FROM NEW.scheduled_at))
    ) THEN
        UPDATE statements_approvalrequest r
        SET status = 'voided', finished_at = now()
        WHERE r.post_id = NEW.id AND r.status IN ('pending', 'approved')
          AND (r.post_snapshot->>'body' IS DISTINCT FROM NEW.body
               OR (r.post_snapshot->>'account')::bigint IS DISTINCT FROM NEW.account_id
               OR (r.post_snapshot ? 'scheduled_at'
                   AND (r.post_snapshot->>'scheduled_at')::timestamptz IS DISTINCT FROM NEW.scheduled_at));
        NEW.awaiting_approval := true;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

TRIGGER_SQL = """
DROP TRIGGER IF EXISTS posts_post_approval_bound ON posts_post;
CREATE TRIGGER posts_post_approval_bound
BEFORE UPDATE OF body, account_id, scheduled_at ON posts_post
FOR EACH ROW
WHEN (OLD.body IS DISTINCT FROM NEW.body
      OR OLD.account_id IS DISTINCT FROM NEW.account_id
      OR OLD.scheduled_at IS DISTINCT FROM NEW.scheduled_at)
EXECUTE FUNCTION statements_post_approval_bound();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS posts_post_approval_bound ON posts_post;
DROP FUNCTION IF EXISTS statements_post_approval_bound();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("statements", "0003_statement_publishing"),
        ("posts", "0005_socialaccount_config_encrypted"),
    ]

    operations = [migrations.RunSQL(FUNCTION_SQL + TRIGGER_SQL, REVERSE_SQL)]
