"""An exempt post is the approved text of a statement: the database keeps it so, whatever door
a change comes through (a service, the ORM, a bulk UPDATE, raw SQL).

The statements service is the only one that grants exemption, at creation (publishing.py makes
the exempt posts from the approved revision). From then on, an exempt post's body and account are
that revision's: an UPDATE that changes them, or that makes an existing post exempt, is refused
(check_violation). Services say it first, in words (posts' post_update refuses with 409); this
trigger is the backstop. The WHEN clause keeps the cost
at zero for updates that leave body, account and exemption alone (the publisher's)."""

from django.db import migrations

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION statements_exempt_post_fixed() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'check_violation',
        MESSAGE = 'post ' || NEW.id || ' is the approved text of a statement: '
                  || 'its body, account and exemption are fixed';
END;
$$ LANGUAGE plpgsql;
"""

TRIGGER_SQL = """
DROP TRIGGER IF EXISTS posts_post_exempt_fixed ON posts_post;
CREATE TRIGGER posts_post_exempt_fixed
BEFORE UPDATE OF body, account_id, exempt ON posts_post
FOR EACH ROW
WHEN (NEW.exempt AND (NOT OLD.exempt
                      OR OLD.body IS DISTINCT FROM NEW.body
                      OR OLD.account_id IS DISTINCT FROM NEW.account_id))
EXECUTE FUNCTION statements_exempt_post_fixed();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS posts_post_exempt_fixed ON posts_post;
DROP FUNCTION IF EXISTS statements_exempt_post_fixed();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("statements", "0006_chainstep_role_never_admin"),
        ("posts", "0005_socialaccount_config_encrypted"),
    ]

    operations = [migrations.RunSQL(FUNCTION_SQL + TRIGGER_SQL, REVERSE_SQL)]
