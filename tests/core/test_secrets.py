"""Secrets at rest: official accounts' configuration and team webhook URLs are Fernet tokens in
the database (and in dumps); `rotate_field_keys` re-encrypts them with the first key."""

import json

import pytest
from cryptography.fernet import Fernet
from django.core import serializers
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.audit.models import AuditEntry
from apps.core import checks, crypto
from apps.notifications.models import TeamWebhook
from apps.posts.models import SocialAccount

KEY_OLD, KEY_NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SLACK = "https://hooks.slack.example/services/T000/B000/XXXXSECRET"


def raw(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.fixture
def keyed(settings):
    settings.CRISISCOMM_FIELD_KEYS = [KEY_OLD]
    return settings


@pytest.fixture
def account(db, keyed):
    return SocialAccount.objects.create(
        network="mastodon",
        handle="@agency@social.example",
        connector="mastodon",
        config={"base_url": "https://social.example", "access_token": "tok-SECRET-123"},
    )


@pytest.fixture
def hook(db, keyed):
    return TeamWebhook.objects.create(name="Comms", kind="slack", url=SLACK)


def test_secrets_are_tokens_in_the_database_and_plaintext_in_the_model(account, hook):
    """Mutation: EncryptedFieldMixin.get_prep_value (or EncryptedJSONField.get_prep_value)
    returning the plaintext -> this test fails."""
    stored_config = raw("posts_socialaccount", "config", account.pk)
    stored_url = raw("notifications_teamwebhook", "url", hook.pk)
    for stored, secret in ((stored_config, "tok-SECRET-123"), (stored_url, "XXXXSECRET")):
        assert stored.startswith("fernet:")
        assert secret not in stored
    assert Fernet(KEY_OLD).decrypt(stored_url.removeprefix("fernet:").encode()).decode() == SLACK
    assert SocialAccount.objects.get(pk=account.pk).config["access_token"] == "tok-SECRET-123"
    assert TeamWebhook.objects.get(pk=hook.pk).url == SLACK


def test_dumps_hold_tokens_not_secrets(account, hook):
    """dumpdata (fixtures, backups made through Django) writes the token; loading it back works."""
    dumped = serializers.serialize("json", [account, hook])
    assert "tok-SECRET-123" not in dumped and "XXXXSECRET" not in dumped
    loaded = [obj.object for obj in serializers.deserialize("json", dumped)]
    assert loaded[0].config["access_token"] == "tok-SECRET-123"
    assert loaded[1].url == SLACK


def test_a_missing_key_is_a_clear_error_not_garbage(account, settings):
    settings.CRISISCOMM_FIELD_KEYS = [KEY_NEW]
    with pytest.raises(ImproperlyConfigured, match="does not decrypt"):
        SocialAccount.objects.get(pk=account.pk)


def test_rotate_field_keys_reencrypts_everything_once_and_is_audited(account, hook, settings, capsys):
    """Mutation: rotate()'s _resealed returning the stored value -> the old key still decrypts
    the rows and this test fails."""
    # A value from before encryption (written in clear by an older version).
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO notifications_teamwebhook (name, kind, url, department, language, is_active,"
            " created_at) VALUES ('Legacy', 'mattermost', 'https://chat.example/hooks/LEGACY', '', 'fr',"
            " true, now())"
            " RETURNING id"
        )
        legacy_pk = cursor.fetchone()[0]
    settings.CRISISCOMM_FIELD_KEYS = [KEY_NEW, KEY_OLD]

    call_command("rotate_field_keys")
    assert json.loads(capsys.readouterr().out)["changed"] == {
        "posts.SocialAccount": 1,
        "notifications.TeamWebhook": 2,
    }
    for table, column, pk in (
        ("posts_socialaccount", "config", account.pk),
        ("notifications_teamwebhook", "url", hook.pk),
        ("notifications_teamwebhook", "url", legacy_pk),
    ):
        token = raw(table, column, pk).removeprefix("fernet:").encode()
        Fernet(KEY_NEW).decrypt(token)  # the new key alone opens every row
    entry = AuditEntry.objects.filter(action="core.field_keys_rotate").get()
    assert entry.details["changed"]["notifications.TeamWebhook"] == 2

    # Idempotent: a second run changes nothing.
    before = raw("posts_socialaccount", "config", account.pk)
    call_command("rotate_field_keys")
    assert set(json.loads(capsys.readouterr().out)["changed"].values()) == {0}
    assert raw("posts_socialaccount", "config", account.pk) == before

    # The old key can now be dropped.
    settings.CRISISCOMM_FIELD_KEYS = [KEY_NEW]
    assert SocialAccount.objects.get(pk=account.pk).config["access_token"] == "tok-SECRET-123"
    assert TeamWebhook.objects.get(pk=legacy_pk).url == "https://chat.example/hooks/LEGACY"


def test_deploy_check_warns_without_field_keys(settings):
    settings.CRISISCOMM_FIELD_KEYS = []
    assert [w.id for w in checks.field_keys_configured(None)] == ["crisiscomm.W010"]
    settings.CRISISCOMM_FIELD_KEYS = [KEY_NEW]
    assert checks.field_keys_configured(None) == []


def test_without_keys_a_key_derived_from_secret_key_is_used(settings):
    settings.CRISISCOMM_FIELD_KEYS = []
    token = crypto.seal("x")
    assert Fernet(crypto.derived_key(settings.SECRET_KEY)).decrypt(token.removeprefix("fernet:").encode())


def _migration_and_parent(app, suffix):
    executor = MigrationExecutor(connection)
    [name] = [n for (a, n) in executor.loader.disk_migrations if a == app and n.endswith(suffix)]
    migration = executor.loader.disk_migrations[(app, name)]
    [parent] = [d for d in migration.dependencies if d[0] == app]
    return executor, (app, name), parent


@pytest.mark.django_db(transaction=True)
def test_data_migrations_encrypt_existing_plaintext(settings):
    """Back to the schema before encryption, plaintext rows written, migrations run: every row
    is a token and reads back the same.

    Mutation: the RunPython(encrypt, …) step removed from either migration -> this test fails."""
    settings.CRISISCOMM_FIELD_KEYS = [KEY_OLD]
    executor, posts_target, posts_parent = _migration_and_parent("posts", "_socialaccount_config_encrypted")
    _, notif_target, notif_parent = _migration_and_parent("notifications", "_teamwebhook_url_encrypted")
    try:
        executor.migrate([posts_parent, notif_parent])
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO posts_socialaccount (network, handle, connector, config, is_active, created_at)"
                " VALUES ('mastodon', '@old', 'mastodon', %s, true, now()) RETURNING id",
                [json.dumps({"base_url": "https://social.example", "access_token": "OLD-TOKEN"})],
            )
            account_pk = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO notifications_teamwebhook (name, kind, url, department, language, is_active,"
                " created_at) VALUES ('Old', 'slack', %s, '', 'fr', true, now()) RETURNING id",
                [SLACK],
            )
            hook_pk = cursor.fetchone()[0]
        executor = MigrationExecutor(connection)
        executor.migrate([posts_target, notif_target])
        assert "OLD-TOKEN" not in raw("posts_socialaccount", "config", account_pk)
        assert raw("notifications_teamwebhook", "url", hook_pk).startswith("fernet:")
        assert SocialAccount.objects.get(pk=account_pk).config["access_token"] == "OLD-TOKEN"
        assert TeamWebhook.objects.get(pk=hook_pk).url == SLACK
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_no_page_of_the_admin_shows_an_accounts_secret(client, make_user, account):
    """The admin lists and opens official accounts without their configuration.

    Mutation: SocialAccountAdmin without exclude = ["config"] -> this test fails."""
    superuser = make_user(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    for url in ("/admin/posts/socialaccount/", f"/admin/posts/socialaccount/{account.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "tok-SECRET-123" not in response.content.decode()


def test_the_api_never_returns_an_accounts_secret(api, dco, auditor, account):
    for user in (dco, auditor):
        for url in ("/api/v1/social-accounts/", f"/api/v1/social-accounts/{account.pk}/"):
            body = api.as_user(user).get(url).content.decode()
            assert "tok-SECRET-123" not in body and "fernet:" not in body
