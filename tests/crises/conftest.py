# The loopback servers and accounts of the posts tests (eager_celery lives in the root conftest).
from tests.posts.conftest import (  # noqa: F401
    _loopback_test_doubles,
    mastodon_account,
    mastodon_server,
    webhook_account,
    webhook_server,
)
