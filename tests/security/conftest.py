import pytest


@pytest.fixture
def plain_live_server(transactional_db):
    """pytest-django's live server with plain-HTTP settings in force before it starts (its
    middleware reads them at start), on 127.0.0.1, stopped at the end of the test."""
    from django.test import override_settings
    from pytest_django.live_server_helper import LiveServer

    plain_http = override_settings(
        SECURE_SSL_REDIRECT=False,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        SECURE_HSTS_SECONDS=0,
    )
    plain_http.enable()
    server = LiveServer("127.0.0.1")
    yield server
    server.stop()
    plain_http.disable()
