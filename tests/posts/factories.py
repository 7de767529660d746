import factory
from django.utils import timezone

from apps.posts.models import Post, SocialAccount


class SocialAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SocialAccount

    network = "linkedin"
    handle = factory.Sequence(lambda n: f"@agency{n}")
    connector = "webhook"
    config = factory.LazyFunction(lambda: {"url": "http://127.0.0.1:9/hook", "secret": "s3cret"})


class PostFactory(factory.django.DjangoModelFactory):
    """Builds rows directly (test setup only); the code under test goes through services."""

    class Meta:
        model = Post

    account = factory.SubFactory(SocialAccountFactory)
    body = factory.Sequence(lambda n: f"Post number {n}")
    scheduled_at = factory.LazyFunction(timezone.now)
