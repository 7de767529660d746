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


# --- Rulings on the pre-check page, the rulings page, the figures page (issue 16) ---------------------


@pytest.fixture
def dco_browser(dco):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dco)
    return client


def test_the_dco_rules_on_the_draft_just_checked(dco_browser, dco):
    """Mutation: the ruling form offered to everyone (can_rule forced True) -> the employee test below
    fails; the record view's role check removed -> it fails too."""
    from apps.audit.models import AuditEntry
    from apps.policy.models import Ruling

    token = _csrf(dco_browser)
    text = "Official statement from the agency: an anomaly occurred during the test."
    page = dco_browser.post(
        URL,
        {"csrfmiddlewaretoken": token, "network": "linkedin", "account_kind": "personal", "text": text},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = page.content.decode()
    assert "Record a ruling" in html
    assert 'action="/precheck/rulings/record/"' in html
    response = dco_browser.post(
        "/precheck/rulings/record/",
        {
            "csrfmiddlewaretoken": token,
            "text": text,
            "network": "linkedin",
            "account_kind": "personal",
            "crisis": "on",
            "verdict": "warn",
            "comment": "Relay as it stands.",
            "source": "check",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302 and response["Location"] == "/precheck/rulings/"
    ruling = Ruling.objects.get()
    assert (ruling.crisis, ruling.verdict, ruling.check_verdict, ruling.source) == (
        True,
        "warn",
        "warn",
        "check",
    )
    assert AuditEntry.objects.filter(action="policy.ruling_record", actor_id=dco.pk).exists()
    listing = dco_browser.get("/precheck/rulings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-ruling="{ruling.pk}"' in listing and "Ruling #" in listing
    again = dco_browser.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<li data-ruling="{ruling.pk}">' in again  # the pre-check page lists recent rulings too
    assert 'href="/api/v1/precheck/rulings/export/?as=csv"' in listing
    export = dco_browser.get("/api/v1/precheck/rulings/export/?as=csv")
    assert export.status_code == 200 and "Official statement" in export.content.decode()


def test_an_employee_gets_no_ruling_form_and_cannot_post_one(browser):
    from apps.policy.models import Ruling

    token = _csrf(browser)
    html = browser.post(
        URL,
        {"csrfmiddlewaretoken": token, "network": "linkedin", "account_kind": "personal", "text": "Bonjour"},
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    assert "Record a ruling" not in html
    response = browser.post(
        "/precheck/rulings/record/",
        {
            "csrfmiddlewaretoken": token,
            "text": "x",
            "network": "x",
            "account_kind": "personal",
            "verdict": "warn",
        },
    )
    assert response.status_code == 403
    assert browser.get("/precheck/figures/").status_code == 403
    assert not Ruling.objects.exists()


def test_a_bad_ruling_form_is_a_400_naming_the_field(dco_browser):
    token = _csrf(dco_browser)
    response = dco_browser.post(
        "/precheck/rulings/record/",
        {"csrfmiddlewaretoken": token, "text": "x", "network": "myspace", "account_kind": "personal"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice" in html and "This field is required" in html  # network, verdict


def test_figures_page_shows_agreement_overall_and_per_rule_in_french(dco_browser, dco):
    from apps.policy import services

    services.ruling_record(
        actor=dco,
        text="Official statement from the agency: an anomaly occurred.",
        network="linkedin",
        account_kind="personal",
        crisis=True,
        verdict="allowed",
    )
    html = dco_browser.get("/precheck/figures/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-agreed="0" data-total="1"' in html
    assert (
        'data-code="crisis.relay_official"><td><code>crisis.relay_official</code></td><td>1</td><td>1</td>'
        in html
    )
    corpus = dco_browser.get("/precheck/figures/?of=corpus", HTTP_ACCEPT_LANGUAGE="fr")
    assert corpus["Content-Language"] == "fr"
    assert "data-total=" in corpus.content.decode()


def test_reasons_on_the_page_say_what_to_do_and_where_the_guide_says_it(browser):
    token = _csrf(browser)
    html = browser.post(
        URL,
        {
            "csrfmiddlewaretoken": token,
            "network": "facebook",
            "account_kind": "personal",
            "text": "mdp : Soleil2024",
        },
        HTTP_ACCEPT_LANGUAGE="fr",
    ).content.decode()
    assert "Retirez le secret du texte" in html
    assert "Respectez les règles de sécurité / confidentialité" in html
