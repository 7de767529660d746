# The loopback servers and accounts of the posts tests.
from tests.posts.conftest import (  # noqa: F401
    _loopback_test_doubles,
    eager_celery,
    mastodon_account,
    mastodon_server,
    webhook_account,
    webhook_server,
)
