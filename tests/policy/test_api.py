"""POST /api/v1/precheck/ and the embargo registry /api/v1/embargoes/."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import StaffProfile
from apps.audit.models import AuditEntry
from apps.crises.models import Crisis
from apps.policy.models import Embargo

URL = "/api/v1/precheck/"
EMBARGOES = "/api/v1/embargoes/"
pytestmark = pytest.mark.django_db


def post(client, **data):
    body = {"network": "linkedin", "text": "Bonjour", "account_kind": "personal", **data}
    return client.post(URL, {k: v for k, v in body.items() if v is not None}, format="json")


def codes(response):
    return {r["code"] for r in response.json()["reasons"]}


def test_anonymous_gets_401(api):
    response = post(api)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"network": "myspace"}, "network"),
        ({"network": None}, "network"),
        ({"account_kind": "corporate"}, "account_kind"),
        ({"account_kind": None}, "account_kind"),
        ({"text": None}, "text"),
        ({"text": "x" * 20_001}, "text"),
        ({"has_photo": "perhaps"}, "has_photo"),
    ],
)
def test_bad_input_is_400_naming_the_field(api, employee, data, field):
    response = post(api.as_user(employee), **data)
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"]
    assert body["detail"].startswith(field)


def test_any_staff_member_gets_a_verdict_with_explained_reasons(api, employee):
    response = post(api.as_user(employee), text="Le moteur est en panne, photo à l'appui", network="x")
    assert response.status_code == 200
    body = response.json()
    assert body["verdict"] == "warn"
    assert codes(response) == {"equipment.weakness", "photo.check", "network.x_caution"}
    weakness = next(r for r in body["reasons"] if r["code"] == "equipment.weakness")
    assert weakness["severity"] == "warn"
    assert weakness["match"] == "panne"
    assert "faiblesses d'un dispositif" in weakness["guide"]
    assert body["crisis"] is None


def test_messages_follow_accept_language(api, employee):
    client = api.as_user(employee)
    en = client.post(URL, {"network": "youtube", "text": "Ma chaîne", "account_kind": "personal"},
                     format="json", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")  # fmt: skip
    fr = client.post(URL, {"network": "youtube", "text": "Ma chaîne", "account_kind": "personal"},
                     format="json", HTTP_ACCEPT_LANGUAGE="fr-FR")  # fmt: skip
    assert en.json()["reasons"][0]["message"].startswith("On video platforms")
    assert en["Content-Language"] == "en"
    assert fr.json()["reasons"][0]["message"].startswith("Sur les plateformes vidéo")
    assert fr["Content-Language"] == "fr"


def test_without_a_header_the_profile_language_is_used(api, employee, make_user):
    StaffProfile.objects.create(user=employee, language="en")
    response = post(api.as_user(employee), network="mastodon")
    assert response.json()["reasons"][0]["message"].startswith("Mastodon and WhatsApp are experimental")
    other = make_user("employee")  # no profile: the default, French
    response = post(api.as_user(other), network="mastodon")
    assert response.json()["reasons"][0]["message"].startswith("Mastodon et WhatsApp")


def test_active_crisis_blocks_every_professional_publication_until_freeze_until(api, employee, crisis):
    client = api.as_user(employee)
    response = post(client, text="Notre nouvel article est en ligne", HTTP_ACCEPT_LANGUAGE="en")
    body = response.json()
    assert body["verdict"] == "blocked"
    assert body["crisis"]["id"] == crisis.pk
    freeze = next(r for r in body["reasons"] if r["code"] == "crisis.freeze")
    assert "Anomalie lanceur" in freeze["message"]
    # The date is written out in the caller's language.
    assert str(timezone.localtime(crisis.freeze_until).year) in freeze["message"]

    official = post(client, network="x", account_kind="official", text="Communiqué")
    assert official.json()["verdict"] == "blocked"
    assert "circuit des déclarations" in official.json()["reasons"][0]["message"]

    # After freeze_until, the crisis still open: refer to the DCO (a warning), denials still blocked.
    now = timezone.now()  # the database keeps the freeze at least 24 h long: move both ends back
    Crisis.objects.filter(pk=crisis.pk).update(
        declared_at=now - timedelta(hours=25), freeze_until=now - timedelta(seconds=1)
    )
    assert post(client, text="Notre nouvel article").json()["verdict"] == "warn"
    denial = post(client, text="C'est faux, nous démentons")
    assert denial.json()["verdict"] == "blocked"
    assert "crisis.denial" in codes(denial)


def test_embargo_blocks_until_it_ends_then_allows(api, dco, employee):
    # A real, short embargo: the test waits for its end (no clock patched, no row rewritten).
    until = timezone.now() + timedelta(seconds=2.5)
    created = api.as_user(dco).post(
        EMBARGOES,
        {
            "topic": "Résultats de la mission Juice",
            "terms": ["JUICE", "lune* glac*"],
            "until": until.isoformat(),
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["active"] is True
    assert AuditEntry.objects.filter(
        action="policy.embargo_create", object_id=str(created.json()["id"])
    ).exists()

    client = api.as_user(employee)
    blocked = post(client, text="Premières images de Juice demain !", HTTP_ACCEPT_LANGUAGE="fr")
    assert blocked.json()["verdict"] == "blocked"
    reason = next(r for r in blocked.json()["reasons"] if r["code"] == "embargo.active")
    assert "Résultats de la mission Juice" in reason["message"]
    assert reason["match"] == "Juice"
    assert "embargo.active" in codes(post(client, text="Les lunes glacées de Jupiter"))

    assert timezone.now() < until, "the checks above took too long to prove anything"
    # Time passes; nothing changes in the rules or the registry.
    time.sleep(max(0.0, (until - timezone.now()).total_seconds()) + 0.05)
    after = post(client, text="Premières images de Juice demain !")
    assert after.json()["verdict"] == "allowed"
    assert codes(after) == {"network.linkedin"}


def test_dco_ends_an_embargo_early_and_it_is_audited(api, dco, employee):
    client = api.as_user(dco)
    created = client.post(
        EMBARGOES,
        {
            "topic": "Budget",
            "terms": ["budget 2027"],
            "until": (timezone.now() + timedelta(days=1)).isoformat(),
        },
        format="json",
    ).json()
    assert post(api.as_user(employee), text="Le budget 2027 est voté").json()["verdict"] == "blocked"
    ended = api.as_user(dco).patch(
        f"{EMBARGOES}{created['id']}/", {"until": timezone.now().isoformat()}, format="json"
    )
    assert ended.status_code == 200
    assert ended.json()["active"] is False
    assert AuditEntry.objects.filter(action="policy.embargo_end").count() == 1
    assert post(api.as_user(employee), text="Le budget 2027 est voté").json()["verdict"] == "allowed"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"terms": []}, "terms"),
        ({"terms": ["!!!"]}, "terms"),
        ({"until": "2000-01-01T00:00:00Z"}, "until"),
        ({"until": "tomorrow"}, "until"),
        ({"topic": ""}, "topic"),
    ],
)
def test_embargo_bad_input_is_400_naming_the_field(api, dco, data, field):
    body = {"topic": "Budget", "terms": ["budget"], "until": (timezone.now() + timedelta(days=1)).isoformat()}
    response = api.as_user(dco).post(EMBARGOES, {**body, **data}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Embargo.objects.exists()


def test_embargo_registry_is_dco_only(api, employee):
    client = api.as_user(employee)
    assert client.get(EMBARGOES).status_code == 403
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert (
        client.post(EMBARGOES, {"topic": "t", "terms": ["t"], "until": future}, format="json").status_code
        == 403
    )
    assert not Embargo.objects.exists()


def test_embargo_list_and_delete(api, dco, django_assert_max_num_queries):
    from apps.policy import services

    now = timezone.now()
    for i in range(5):
        services.embargo_create(
            actor=dco, topic=f"T{i}", terms=[f"terme{i}"], until=now + timedelta(days=i + 1)
        )
    Embargo.objects.filter(topic="T0").update(until=now - timedelta(days=1))
    client = api.as_user(dco)
    with django_assert_max_num_queries(5):  # auth, roles, count, page (creators joined): not one per row
        response = client.get(EMBARGOES)
    assert [e["topic"] for e in response.json()["results"]] == ["T0", "T1", "T2", "T3", "T4"]
    assert response.json()["results"][1]["terms"] == ["terme1"]
    assert response.json()["results"][1]["created_by"] == dco.username
    assert [e["topic"] for e in client.get(EMBARGOES, {"active": "true"}).json()["results"]] == [
        "T1",
        "T2",
        "T3",
        "T4",
    ]
    target = Embargo.objects.get(topic="T1")
    assert client.delete(f"{EMBARGOES}{target.pk}/").status_code == 204
    assert not Embargo.objects.filter(pk=target.pk).exists()
    entry = AuditEntry.objects.get(action="policy.embargo_delete")
    assert entry.details["topic"] == "T1"


def test_staff_read_the_rules_in_their_language(api, employee, dco, django_assert_max_num_queries):
    from apps.policy import services
    from apps.policy.models import PolicyRule

    services.policy_rule_update(
        actor=dco, rule=PolicyRule.objects.get(code="account.dedicated"), data={"enabled": False}
    )
    client = api.as_user(employee)
    with django_assert_max_num_queries(4):  # auth, roles, profile, rules: not one per rule
        response = client.get("/api/v1/policy-rules/", HTTP_ACCEPT_LANGUAGE="en")
    rules = {r["code"]: r for r in response.json()}
    assert "account.dedicated" not in rules
    assert rules["network.x_caution"]["message"].startswith("X: with great caution")
    assert rules["network.x_caution"]["networks"] == ["x"]
    assert "mot de passe" in rules["confidential.password_mention"]["patterns"]
    one = client.get("/api/v1/policy-rules/crisis.denial/", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert one["message"].startswith("Pendant une crise")
    # The DCO also sees disabled rules; nobody writes through this endpoint.
    assert "account.dedicated" in {r["code"] for r in api.as_user(dco).get("/api/v1/policy-rules/").json()}
    assert api.as_user(dco).post("/api/v1/policy-rules/", {"code": "x"}, format="json").status_code == 405
