from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.posts.models import Post, PostStatus, SocialAccount
from tests.posts.factories import PostFactory, SocialAccountFactory

pytestmark = pytest.mark.django_db


def test_account_secrets_are_write_only(api, dco):
    client = api.as_user(dco)
    r = client.post(
        "/api/v1/social-accounts/",
        {
            "network": "mastodon",
            "handle": "@agency@social.example",
            "connector": "mastodon",
            "config": {"base_url": "http://127.0.0.1:9/", "access_token": "tok-123"},
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["config"] == {"base_url": "http://127.0.0.1:9"}
    assert body["secrets_set"] == ["access_token"]
    assert "tok-123" not in r.content.decode()
    account = SocialAccount.objects.get(pk=body["id"])
    assert account.config["access_token"] == "tok-123"

    # A new target without its secret is refused (the stored token would go to the new server).
    r = client.patch(
        f"/api/v1/social-accounts/{account.pk}/",
        {"config": {"base_url": "http://127.0.0.1:10"}},
        format="json",
    )
    assert r.status_code == 400 and "config.access_token" in r.json()["errors"], r.content
    r = client.patch(
        f"/api/v1/social-accounts/{account.pk}/",
        {"config": {"base_url": "http://127.0.0.1:10", "access_token": "tok-123"}},
        format="json",
    )
    assert r.status_code == 200, r.content
    account.refresh_from_db()
    assert account.config == {"base_url": "http://127.0.0.1:10", "access_token": "tok-123"}
    assert "tok-123" not in client.get("/api/v1/social-accounts/").content.decode()
    assert AuditEntry.objects.filter(action="account.update", object_id=str(account.pk)).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            {"network": "myspace", "handle": "a", "connector": "manual", "config": {"assignee": "dco1"}},
            "network",
        ),
        (
            {"network": "x", "handle": "a", "connector": "webhook", "config": {"url": "http://127.0.0.1:9"}},
            "config",
        ),
        (
            {
                "network": "x",
                "handle": "a",
                "connector": "webhook",
                "config": {"url": "ftp://h", "secret": "s"},
            },
            "config",
        ),
        ({"network": "x", "handle": "a", "connector": "manual", "config": {"assignee": "nobody"}}, "config"),
        (
            {
                "network": "x",
                "handle": "a",
                "connector": "mastodon",
                "config": {"base_url": "http://h", "access_token": "t"},
            },
            "connector",
        ),
    ],
)
def test_bad_account_config_names_the_field(api, dco, payload, field):
    r = api.as_user(dco).post("/api/v1/social-accounts/", payload, format="json")
    assert r.status_code == 400, r.content
    # The field, or one of its keys (`config.url`).
    assert any(name == field or name.startswith(f"{field}.") for name in r.json()["errors"]), r.content
    assert not SocialAccount.objects.exists()


def test_rights_on_accounts_and_posts(api, dco, auditor, employee):
    account = SocialAccountFactory()
    PostFactory(account=account)
    assert api.as_user(auditor).get("/api/v1/posts/").status_code == 200
    assert api.as_user(auditor).get("/api/v1/social-accounts/").status_code == 200
    new_post = {"account": account.pk, "body": "x", "scheduled_at": timezone.now().isoformat()}
    assert api.as_user(auditor).post("/api/v1/posts/", new_post, format="json").status_code == 403
    assert api.as_user(employee).get("/api/v1/posts/").status_code == 403
    api.credentials()
    assert api.get("/api/v1/posts/").status_code == 401
    assert Post.objects.count() == 1


def test_create_post_ignores_exempt_and_hold_from_clients(api, dco):
    account = SocialAccountFactory()
    when = timezone.now() + timedelta(hours=2)
    r = api.as_user(dco).post(
        "/api/v1/posts/",
        {
            "account": account.pk,
            "body": "Our new satellite",
            "scheduled_at": when.isoformat(),
            "exempt": True,
            "awaiting_approval": True,
            "status": "published",
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    post = Post.objects.get(pk=r.json()["id"])
    assert (post.exempt, post.awaiting_approval, post.status) == (False, False, PostStatus.SCHEDULED)
    assert AuditEntry.objects.filter(action="post.create", object_id=str(post.pk)).exists()


def test_bad_post_input_is_400_naming_the_field(api, dco):
    account = SocialAccountFactory()
    client = api.as_user(dco)
    r = client.post(
        "/api/v1/posts/", {"account": account.pk, "body": "x", "scheduled_at": "soon"}, format="json"
    )
    assert r.status_code == 400 and "scheduled_at" in r.json()["errors"]
    r = client.post(
        "/api/v1/posts/",
        {"account": account.pk, "body": "  ", "scheduled_at": timezone.now().isoformat()},
        format="json",
    )
    assert r.status_code == 400 and "body" in r.json()["errors"]
    r = client.post(
        "/api/v1/posts/",
        {"account": 999, "body": "x", "scheduled_at": timezone.now().isoformat()},
        format="json",
    )
    assert r.status_code == 400 and "account" in r.json()["errors"]
    assert not Post.objects.exists()


def test_post_filters_and_bounded_queries(api, auditor, django_assert_max_num_queries):
    now = timezone.now()
    x = SocialAccountFactory(network="x")
    li = SocialAccountFactory(network="linkedin")
    early = PostFactory(account=x, scheduled_at=now + timedelta(hours=1))
    late = PostFactory(account=li, scheduled_at=now + timedelta(days=2))
    done = PostFactory(account=li, scheduled_at=now - timedelta(days=1), status=PostStatus.PUBLISHED)
    PostFactory.create_batch(20, account=x, scheduled_at=now + timedelta(days=5))
    client = api.as_user(auditor)

    def ids(query):
        return {p["id"] for p in client.get(f"/api/v1/posts/?{query}").json()["results"]}

    assert ids("status=published") == {done.pk}
    assert ids("network=linkedin") == {late.pk, done.pk}
    assert ids(f"account={li.pk}&status=scheduled") == {late.pk}
    after = (now + timedelta(minutes=30)).isoformat().replace("+", "%2B")
    before = (now + timedelta(days=3)).isoformat().replace("+", "%2B")
    assert ids(f"scheduled_at_after={after}&scheduled_at_before={before}") == {early.pk, late.pk}
    assert client.get("/api/v1/posts/?status=bogus").status_code == 400
    with django_assert_max_num_queries(6):
        r = client.get("/api/v1/posts/?page_size=100")
    assert r.json()["count"] == 23


def test_cancel_and_edit(api, dco):
    post = PostFactory(scheduled_at=timezone.now() + timedelta(hours=1))
    client = api.as_user(dco)
    r = client.patch(f"/api/v1/posts/{post.pk}/", {"body": "Edited"}, format="json")
    assert r.status_code == 200 and r.json()["body"] == "Edited"
    assert client.post(f"/api/v1/posts/{post.pk}/cancel/").json()["status"] == "cancelled"
    assert client.post(f"/api/v1/posts/{post.pk}/cancel/").status_code == 409
    assert client.patch(f"/api/v1/posts/{post.pk}/", {"body": "Again"}, format="json").status_code == 409
    assert client.delete(f"/api/v1/posts/{post.pk}/").status_code == 405


def test_an_edit_naming_a_field_it_cannot_change_is_refused_naming_it(api, dco):
    """A PATCH with `status` or `exempt` (read-only: DRF would drop them and answer 200) is a
    400 naming the field, and nothing of it is applied. Mutation: PostSerializer.validate's
    refusal removed -> 200 with the post unchanged, this test fails."""
    post = PostFactory(scheduled_at=timezone.now() + timedelta(hours=1))
    client = api.as_user(dco)
    for key, value in (("status", "cancelled"), ("exempt", True)):
        r = client.patch(f"/api/v1/posts/{post.pk}/", {"body": "Edited", key: value}, format="json")
        assert r.status_code == 400 and key in r.json()["errors"], r.content
    post.refresh_from_db()
    assert post.status == "scheduled" and post.exempt is False and post.body != "Edited"


def test_the_update_service_takes_its_changes_one_way_and_refuses_a_field_it_cannot_change(dco):
    """post_update(data=…): a key it may not change is a 400 naming it, and nothing is applied.
    Mutation: the `unknown` refusal removed from post_update -> the status is written behind the
    service's back -> this test fails."""
    from apps.core.errors import ServiceError
    from apps.posts.services import post_update

    post = PostFactory(scheduled_at=timezone.now() + timedelta(hours=1))
    with pytest.raises(ServiceError) as refused:
        post_update(actor=dco, post=post, data={"body": "Edited", "status": "published"})
    assert refused.value.field == "status"
    post.refresh_from_db()
    assert post.status == "scheduled" and post.body != "Edited"
    assert post_update(actor=dco, post=post, data={"body": "Edited"}).body == "Edited"


def test_an_account_edit_changing_its_network_is_refused_naming_it(api, dco):
    """An account's network is fixed (its posts were written for it): the edit is a 400 naming
    `network` and nothing changes, the handle given with it neither. Mutation: "network" added
    to accounts.EDITABLE_FIELDS -> the network changes and this test fails."""
    client = api.as_user(dco)
    r = client.post(
        "/api/v1/social-accounts/",
        {"network": "x", "handle": "@agency", "connector": "manual", "config": {"assignee": dco.username}},
        format="json",
    )
    assert r.status_code == 201, r.content
    account = SocialAccount.objects.get(pk=r.json()["id"])
    r = client.patch(
        f"/api/v1/social-accounts/{account.pk}/", {"network": "mastodon", "handle": "@other"}, format="json"
    )
    assert r.status_code == 400 and "network" in r.json()["errors"], r.content
    account.refresh_from_db()
    assert (account.network, account.handle) == ("x", "@agency")


def test_manual_account_without_config_is_400_not_500(api, dco):
    r = api.as_user(dco).post(
        "/api/v1/social-accounts/",
        {"network": "youtube", "handle": "Agency", "connector": "manual"},
        format="json",
    )
    assert r.status_code == 400 and "config" in r.json()["errors"]
    r = api.as_user(dco).post(
        "/api/v1/social-accounts/",
        {"network": "youtube", "handle": "Agency", "connector": "manual", "config": {"assignee": "dco1"}},
        format="json",
    )
    assert r.status_code == 201 and r.json()["config"] == {"assignee": "dco1"}
    again = api.as_user(dco).post(
        "/api/v1/social-accounts/",
        {"network": "youtube", "handle": "Agency", "connector": "manual", "config": {"assignee": "dco1"}},
        format="json",
    )
    assert again.status_code == 400, again.content  # the (network, handle) unique constraint
