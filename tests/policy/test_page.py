"""The staff page /precheck/: the same check, server-rendered, behind login, with CSRF."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
URL = "/precheck/"


@pytest.fixture
def browser(employee):
    client = Client(enforce_csrf_checks=True)
    client.force_login(employee)
    return client


def _csrf(client):
    page = client.get(URL)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def test_anonymous_is_sent_to_login():
    response = Client().get(URL)
    assert response.status_code == 302
    assert "next=/precheck/" in response["Location"]


def test_page_renders_a_labelled_form(browser):
    response = browser.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<main" in html  # extends base.html
    assert 'name="csrfmiddlewaretoken"' in html
    for field in ("network", "text"):
        assert re.search(rf'<label for="id_{field}">', html), field
    assert 'name="account_kind"' in html and 'name="has_photo"' in html
    assert "<legend>Account</legend>" in html


def test_submitting_shows_the_verdict_and_reasons(browser):
    token = _csrf(browser)
    response = browser.post(
        URL,
        {
            "csrfmiddlewaretoken": token,
            "network": "facebook",
            "account_kind": "personal",
            "text": "mdp : Soleil2024 pour l'équipe",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-verdict="blocked"' in html
    assert 'data-code="confidential.credential"' in html
    assert "discloses a password" in html
    assert "Soleil2024" not in html.split("<form")[0]  # the secret is not quoted back in the result


def test_french_page_and_messages(browser):
    token = _csrf(browser)
    response = browser.post(
        URL,
        {"csrfmiddlewaretoken": token, "network": "tiktok", "account_kind": "personal", "text": "Ma vidéo"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    html = response.content.decode()
    assert 'lang="fr"' in html
    assert "Sur les plateformes vidéo" in html
    assert 'data-code="photo.check"' in html


def test_post_without_csrf_is_refused(browser):
    response = browser.post(URL, {"network": "x", "account_kind": "personal", "text": "hello"})
    assert response.status_code == 403


def test_bad_input_redisplays_the_form_with_the_error(browser):
    token = _csrf(browser)
    response = browser.post(
        URL,
        {"csrfmiddlewaretoken": token, "network": "myspace", "account_kind": "personal", "text": "x"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "data-verdict" not in html
    assert 'class="errors" role="alert"' in html
    assert "myspace" in html
