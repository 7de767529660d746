"""Rulings (issue 16): the DCO records the verdict the guide calls for on a draft; rulings are audited,
listed, exported, replayed as a regression corpus, and every rule change is previewed against them."""

import csv
import io
import json

import pytest
from django.core.management import call_command

from apps.audit.models import AuditEntry
from apps.policy import selectors, services
from apps.policy.models import PolicyRule, Ruling

pytestmark = pytest.mark.django_db

URL = "/api/v1/precheck/rulings/"
RELAY = "Official statement from the agency: an anomaly occurred during the test."
SECRET = "mdp : Soleil2024 pour l'équipe"


def ruling(**overrides):
    body = {
        "text": RELAY,
        "network": "linkedin",
        "account_kind": "personal",
        "crisis": True,
        "verdict": "warn",
        "comment": "Relaying the statement as it stands.",
    }
    return {**body, **overrides}


def test_dco_records_a_ruling_beside_the_checks_verdict(api, dco):
    response = api.as_user(dco).post(URL, ruling(verdict="allowed"), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["verdict"] == "allowed"
    assert body["check_verdict"] == "warn"  # the check said warn: this ruling overturns it
    assert body["check_codes"] == ["crisis.relay_official", "network.linkedin"]
    assert body["overturned"] is True
    assert body["created_by"] == dco.username
    entry = AuditEntry.objects.get(action="policy.ruling_record")
    assert entry.actor_id == dco.pk
    assert entry.details["verdict"] == "allowed" and entry.details["check_verdict"] == "warn"

    listed = api.get(URL).json()
    assert [r["id"] for r in listed["results"]] == [body["id"]]


def test_the_audit_keeps_a_digest_not_the_secret_a_ruling_is_about(api, dco):
    """Mutation: the raw text put in the audit details -> this test fails."""
    api.as_user(dco).post(URL, ruling(text=SECRET, crisis=False, verdict="blocked"), format="json")
    entry = AuditEntry.objects.get(action="policy.ruling_record")
    assert "Soleil2024" not in json.dumps(entry.details)
    assert len(entry.details["text_sha256"]) == 64


def test_only_the_dco_records_auditors_read(api, employee, auditor, dco):
    """Mutation: IsDCO dropped from the rulings endpoint (any authenticated user) -> this test fails;
    _require_dco removed from ruling_record -> the service test below fails."""
    assert api.as_user(employee).post(URL, ruling(), format="json").status_code == 403
    assert api.as_user(employee).get(URL).status_code == 403
    assert api.as_user(auditor).post(URL, ruling(), format="json").status_code == 403
    assert api.as_user(auditor).get(URL).status_code == 200
    assert not Ruling.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="policy.ruling").exists()

    from apps.core.errors import NotAllowedError

    with pytest.raises(NotAllowedError):
        services.ruling_record(
            actor=employee, text="x", network="x", account_kind="personal", crisis=False, verdict="warn"
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"crisis": None}, "crisis"),
        ({"verdict": "maybe"}, "verdict"),
        ({"network": "myspace"}, "network"),
        ({"account_kind": "corporate"}, "account_kind"),
        ({"text": ""}, "text"),
        ({"text": ["a list"]}, "text"),
        ({"source": "corpus"}, "source"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, dco, body, field):
    payload = {k: v for k, v in ruling(**body).items() if v is not None}
    response = api.as_user(dco).post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Ruling.objects.exists()


def test_a_ruling_is_deleted_on_the_record(api, dco):
    created = api.as_user(dco).post(URL, ruling(), format="json").json()
    assert api.delete(f"{URL}{created['id']}/").status_code == 204
    assert not Ruling.objects.exists()
    assert AuditEntry.objects.filter(action="policy.ruling_delete", object_id=str(created["id"])).exists()


def test_export_csv_and_json_round_trip_into_the_corpus_format(api, dco):
    client = api.as_user(dco)
    client.post(URL, ruling(), format="json")
    client.post(URL, ruling(text=SECRET, crisis=False, verdict="blocked", network="facebook"), format="json")

    as_json = client.get(f"{URL}export/?as=json")
    assert as_json.status_code == 200
    assert as_json["Content-Disposition"].startswith('attachment; filename="rulings-')
    rows = json.loads(as_json.content)
    assert {r["text"] for r in rows} == {RELAY, SECRET}

    as_csv = client.get(f"{URL}export/?as=csv")
    assert as_csv["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert {r["verdict"] for r in table} == {"warn", "blocked"}
    assert {r["crisis"] for r in table} == {"True", "False"}

    # The JSON export is a corpus: imported elsewhere, it replays the same.
    Ruling.objects.all().delete()
    services.rulings_import(actor=dco, entries=rows)
    assert sorted(r.verdict for r in Ruling.objects.all()) == ["blocked", "warn"]

    bad = client.get(f"{URL}export/?as=xml")
    assert bad.status_code == 400 and "as" in bad.json()["errors"]


def test_an_import_is_all_or_nothing(dco):
    from apps.core.errors import ServiceError

    entries = [ruling(), ruling(verdict="perhaps")]
    with pytest.raises(ServiceError) as caught:
        services.rulings_import(actor=dco, entries=entries)
    assert "Ruling 2" in caught.value.message and caught.value.field == "verdict"
    assert not Ruling.objects.exists()


def test_figures_show_agreement_overall_and_per_rule(api, dco, auditor):
    """Mutation: `overturned` counted on every firing (not only when the ruling is milder than the
    rule) -> this test fails."""
    client = api.as_user(dco)
    client.post(URL, ruling(), format="json")  # agrees: warn
    client.post(URL, ruling(verdict="allowed"), format="json")  # overturns the relay's warn
    client.post(URL, ruling(text=SECRET, crisis=False, verdict="blocked"), format="json")  # agrees
    figures = api.as_user(auditor).get("/api/v1/precheck/figures/").json()
    assert (figures["total"], figures["agreed"]) == (3, 2)
    assert figures["agreement"] == pytest.approx(2 / 3)
    assert (figures["too_strict"], figures["missed"]) == (1, 0)
    rules = {row["code"]: row for row in figures["rules"]}
    assert rules["crisis.relay_official"] == {"code": "crisis.relay_official", "fired": 2, "overturned": 1}
    assert rules["confidential.credential"] == {
        "code": "confidential.credential",
        "fired": 1,
        "overturned": 0,
    }
    assert rules["network.linkedin"]["overturned"] == 0  # an info rule is never overturned
    assert [d["verdict"] for d in figures["disagreements"]] == ["allowed"]

    corpus = api.get("/api/v1/precheck/figures/?of=corpus").json()
    assert corpus["total"] == len(selectors.corpus_entries()) and corpus["agreement"] >= 0.95


def test_load_rulings_command_records_the_repository_corpus(dco, capsys):
    call_command("policy_load_rulings", "--as", dco.username)
    assert Ruling.objects.count() == len(selectors.corpus_entries())
    assert set(Ruling.objects.values_list("source", flat=True)) == {"corpus"}
    assert "ruling(s) recorded" in capsys.readouterr().out


# --- A rule change shows, before it is saved, which rulings it would newly break or fix ------------


def _record_relays(dco):
    services.ruling_record(
        actor=dco, text=RELAY, network="linkedin", account_kind="personal", crisis=True, verdict="warn"
    )
    services.ruling_record(
        actor=dco,
        text="Communiqué officiel : voici enfin la vérité sur l'incident, à vous de juger.",
        network="linkedin",
        account_kind="personal",
        crisis=True,
        verdict="blocked",
        comment="Editorialising the relay: not the statement as it stands.",
    )


def test_preview_lists_the_rulings_a_change_would_break_and_saves_nothing(api, dco):
    """Mutation: the preview saving the change (services.policy_rule_update called in preview) -> this
    test fails (the rule changes, an audit entry appears)."""
    _record_relays(dco)
    before = AuditEntry.objects.count()
    response = api.as_user(dco).post(
        "/api/v1/policy-rules/preview/",
        {"code": "crisis.relay_official", "changes": {"enabled": False}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    impact = response.json()
    assert (impact["rulings"], impact["agreed_before"], impact["agreed_after"]) == (2, 1, 1)
    assert [(r["text"], r["check_before"], r["check_after"]) for r in impact["newly_broken"]] == [
        (RELAY, "warn", "blocked")
    ]
    assert [r["verdict"] for r in impact["newly_fixed"]] == ["blocked"]
    assert PolicyRule.objects.get(code="crisis.relay_official").enabled
    assert AuditEntry.objects.count() == before


def test_preview_of_a_new_rule_and_of_a_deletion(api, dco):
    _record_relays(dco)
    client = api.as_user(dco)
    new_rule = {
        "code": "crisis.alarm",
        "changes": {
            "kind": "term",
            "patterns": ["enfin la vérité", "à vous de juger"],
            "severity": "block",
            "condition": "crisis",
            "message_fr": "Pas d'alarme.",
            "message_en": "No alarm.",
        },
    }
    impact = client.post("/api/v1/policy-rules/preview/", new_rule, format="json").json()
    assert impact["newly_broken"] == []
    assert [r["codes_after"][0] for r in impact["newly_fixed"]] == ["crisis.alarm"]
    assert not PolicyRule.objects.filter(code="crisis.alarm").exists()

    deletion = client.post(
        "/api/v1/policy-rules/preview/", {"code": "crisis.relay_official", "delete": True}, format="json"
    ).json()
    assert [r["text"] for r in deletion["newly_broken"]] == [RELAY]


def test_patch_shows_the_impact_first_then_saves_when_confirmed_dco_only(api, dco, employee):
    """Mutation: partial_update saving without `confirm` -> the "shown, not saved" assertion fails."""
    _record_relays(dco)
    url = "/api/v1/policy-rules/crisis.relay_official/"
    assert api.as_user(employee).patch(url, {"enabled": False}, format="json").status_code == 403
    shown = api.as_user(dco).patch(url, {"enabled": False}, format="json")
    assert shown.status_code == 409 and shown.json()["code"] == "confirm_required"
    assert [r["text"] for r in shown.json()["impact"]["newly_broken"]] == [RELAY]
    assert PolicyRule.objects.get(code="crisis.relay_official").enabled  # shown, not saved
    response = api.as_user(dco).patch(url, {"enabled": False, "confirm": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["enabled"] is False
    assert [r["text"] for r in response.json()["impact"]["newly_broken"]] == [RELAY]
    assert AuditEntry.objects.filter(
        action="policy.rule_update", details__code="crisis.relay_official"
    ).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "regex", "patterns": ["(unclosed"]}, "patterns"),
        ({"severity": "fatal"}, "severity"),
        ({"networks": ["myspace"]}, "networks"),
        ({"suppresses": ["crisis.relay_official"]}, "suppresses"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_change_is_a_400_naming_the_field_in_preview_and_patch(api, dco, changes, field):
    client = api.as_user(dco)
    preview = client.post(
        "/api/v1/policy-rules/preview/", {"code": "crisis.relay_official", "changes": changes}, format="json"
    )
    assert preview.status_code == 400 and field in preview.json()["errors"], preview.json()
    patch = client.patch(
        "/api/v1/policy-rules/crisis.relay_official/", {**changes, "confirm": True}, format="json"
    )
    assert patch.status_code == 400 and field in patch.json()["errors"], patch.json()
    assert not AuditEntry.objects.filter(action="policy.rule_update").exists()


def test_patch_confirm_must_be_a_boolean(api, dco):
    response = api.as_user(dco).patch(
        "/api/v1/policy-rules/crisis.relay_official/", {"enabled": False, "confirm": "yes"}, format="json"
    )
    assert response.status_code == 400 and "confirm" in response.json()["errors"]
    assert PolicyRule.objects.get(code="crisis.relay_official").enabled
