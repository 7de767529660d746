"""Rules are data: the DCO edits them (services, admin), every change is audited and takes effect at once."""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.core.errors import NotAllowedError, ServiceError
from apps.policy import selectors, services
from apps.policy.guide import GUIDE_RULES
from apps.policy.models import Embargo, PolicyRule

pytestmark = pytest.mark.django_db


def test_every_guide_rule_is_installed_with_both_languages_and_a_quote():
    installed = {r.code: r for r in PolicyRule.objects.all()}
    assert {r["code"] for r in GUIDE_RULES} <= set(installed)
    for rule in installed.values():
        assert rule.message_fr and rule.message_en and rule.guide, rule.code
        rule.full_clean()  # every seeded pattern compiles


def test_dco_raises_a_rule_to_blocking_and_it_applies_at_once(dco, check):
    text = "Le banc d'essai a révélé une faiblesse du réservoir"
    assert check(text).verdict == "warn"
    rule = PolicyRule.objects.get(code="equipment.weakness")
    services.policy_rule_update(actor=dco, rule=rule, data={"severity": "block"})
    assert check(text).verdict == "blocked"
    entry = AuditEntry.objects.get(action="policy.rule_update")
    assert entry.actor_id == dco.pk
    assert entry.details == {"code": "equipment.weakness", "changes": {"severity": ["warn", "block"]}}

    services.policy_rule_update(actor=dco, rule=rule, data={"enabled": False})
    assert "equipment.weakness" not in {r.code for r in check(text).reasons}


def test_dco_adds_a_term_and_a_new_rule(dco, check):
    rule = PolicyRule.objects.get(code="equipment.weakness")
    services.policy_rule_update(actor=dco, rule=rule, data={"patterns": [*rule.pattern_list(), "surchauffe"]})
    assert "equipment.weakness" in {r.code for r in check("Légère SURCHAUFFE du calculateur").reasons}

    services.policy_rule_create(
        actor=dco,
        code="program.codename",
        kind="term",
        patterns="projet Hélios\nHelios-2",
        severity="block",
        message_fr="Nom de code interne.",
        message_en="Internal code name.",
    )
    result = check("Bientôt des nouvelles du projet helios !")
    assert result.verdict == "blocked"
    assert [r.message for r in result.reasons if r.code == "program.codename"] == ["Internal code name."]
    assert AuditEntry.objects.filter(action="policy.rule_create", details__code="program.codename").exists()


def test_only_the_dco_changes_rules(employee):
    rule = PolicyRule.objects.get(code="equipment.weakness")
    with pytest.raises(NotAllowedError):
        services.policy_rule_update(actor=employee, rule=rule, data={"enabled": False})
    with pytest.raises(NotAllowedError):
        services.embargo_create(
            actor=employee, topic="t", terms=["t"], until=timezone.now() + timedelta(days=1)
        )
    rule.refresh_from_db()
    assert rule.enabled
    assert not AuditEntry.objects.filter(action__startswith="policy.").exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "regex", "patterns": "(unclosed"}, "patterns"),
        ({"kind": "regex", "patterns": "\\bok\\b\n(a+)+$"}, "patterns"),  # catastrophic backtracking
        ({"patterns": "…\n!!"}, "patterns"),
        ({"networks": ["myspace"]}, "networks"),
        ({"severity": "fatal"}, "severity"),
        ({"code": "Not A Code"}, "code"),
    ],
)
def test_invalid_rule_changes_are_refused_naming_the_field(dco, changes, field):
    rule = PolicyRule.objects.get(code="equipment.weakness")
    with pytest.raises(ServiceError) as error:
        services.policy_rule_update(actor=dco, rule=rule, data=changes)
    assert error.value.field == field
    rule.refresh_from_db()
    assert rule.kind == "term" and rule.severity == "warn"


def test_compiled_rules_are_cached_until_a_change(dco, django_assert_num_queries, check):
    first = selectors.compiled_rules()
    assert selectors.compiled_rules() is first
    check("warm")  # compile outside the counted block
    with django_assert_num_queries(1):  # the open crisis, nothing else: rules come from the cache
        check("Le moteur est en panne")
    rule = PolicyRule.objects.get(code="equipment.weakness")
    services.policy_rule_update(actor=dco, rule=rule, data={"severity": "block"})
    assert selectors.compiled_rules() is not first


def test_another_process_recompiles_after_commit(dco, django_capture_on_commit_callbacks):
    """A process holding rules compiled under the old shared version drops them once the change commits."""
    stale = selectors.compiled_rules()
    version_before = selectors.rules_version()
    with django_capture_on_commit_callbacks(execute=True):
        rule = PolicyRule.objects.get(code="equipment.weakness")
        services.policy_rule_update(actor=dco, rule=rule, data={"severity": "block"})
    version_after = selectors.rules_version()
    assert version_after != version_before
    # Simulate the other process: its local cache still holds the old version and rules.
    selectors._compiled_cache["entry"] = (version_before, stale, time.monotonic())
    fresh = selectors.compiled_rules()
    assert fresh is not stale
    assert any(s.code == "equipment.weakness" and s.severity == "block" for s in fresh.specs)


def test_embargo_changes_apply_at_once(dco, check):
    embargo = services.embargo_create(
        actor=dco, topic="Lancement Ariane 6 VA999", terms="VA999", until=timezone.now() + timedelta(days=3)
    )
    assert check("Rendez-vous pour VA999 !").verdict == "blocked"
    services.embargo_update(actor=dco, embargo=embargo, data={"terms": ["VA1000"]})
    assert check("Rendez-vous pour VA999 !").verdict == "allowed"
    assert check("Rendez-vous pour va1000 !").verdict == "blocked"
    services.embargo_delete(actor=dco, embargo=embargo)
    assert check("Rendez-vous pour VA1000 !").verdict == "allowed"
    assert list(
        AuditEntry.objects.filter(action__startswith="policy.embargo").values_list("action", flat=True)
    ) == ["policy.embargo_create", "policy.embargo_update", "policy.embargo_delete"]


def test_embargo_still_enforced_if_its_message_rule_is_deleted(dco, check):
    services.policy_rule_delete(actor=dco, rule=PolicyRule.objects.get(code="embargo.active"))
    services.embargo_create(
        actor=dco, topic="Budget", terms=["budget 2027"], until=timezone.now() + timedelta(1)
    )
    result = check("Le budget 2027 arrive")
    assert result.verdict == "blocked"
    assert "Budget" in result.reasons[0].message


def test_seed_command_restores_a_deleted_guide_rule_and_keeps_edits(dco):
    services.policy_rule_delete(actor=dco, rule=PolicyRule.objects.get(code="agency.voice"))
    rule = PolicyRule.objects.get(code="equipment.weakness")
    services.policy_rule_update(actor=dco, rule=rule, data={"severity": "block"})
    call_command("policy_seed_rules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert PolicyRule.objects.filter(code="agency.voice").exists()
    assert PolicyRule.objects.get(code="equipment.weakness").severity == "block"


# --- Admin ------------------------------------------------------------------------------------------


@pytest.fixture
def dco_admin(client, make_user):
    user = make_user("dco", username="dco_admin", is_staff=True)
    client.force_login(user)
    return user


def _rule_form(rule, **overrides):
    data = {
        "code": rule.code,
        "kind": rule.kind,
        "severity": rule.severity,
        "patterns": rule.patterns,
        "account_kind": rule.account_kind,
        "condition": rule.condition,
        "message_fr": rule.message_fr,
        "message_en": rule.message_en,
        "guide": rule.guide,
        "passage_fr": rule.passage_fr,
        "passage_en": rule.passage_en,
        "advice_fr": rule.advice_fr,
        "advice_en": rule.advice_en,
    }
    if rule.networks:
        data["networks"] = rule.networks
    if rule.suppresses:
        data["suppresses"] = rule.suppresses
    for flag in ("enabled", "on_photo", "quote_match"):
        if getattr(rule, flag):
            data[flag] = "on"
    data.update(overrides)
    return data


def test_admin_change_goes_through_the_service(client, dco_admin, check):
    """A valid change first shows its effect on the rulings (nothing saved), then saves when confirmed.
    Mutation: changeform_view no longer routing unconfirmed changes to the preview -> the first
    request saves and this test fails."""
    rule = PolicyRule.objects.get(code="equipment.weakness")
    url = f"/admin/policy/policyrule/{rule.pk}/change/"
    shown = client.post(url, _rule_form(rule, severity="block"))
    assert shown.status_code == 200 and 'name="_confirmed"' in shown.content.decode()
    assert not AuditEntry.objects.filter(action="policy.rule_update").exists()
    response = client.post(url, _rule_form(rule, severity="block", _confirmed="1"))
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.get(action="policy.rule_update")
    assert entry.actor_id == dco_admin.pk
    assert entry.details["changes"] == {"severity": ["warn", "block"]}
    assert check("Une faiblesse du joint").verdict == "blocked"


def test_admin_refuses_a_broken_regex(client, dco_admin):
    rule = PolicyRule.objects.get(code="confidential.credential")
    response = client.post(f"/admin/policy/policyrule/{rule.pk}/change/", _rule_form(rule, patterns="(oops"))
    assert response.status_code == 200
    assert "not a valid regular expression" in response.content.decode()
    assert not AuditEntry.objects.filter(action="policy.rule_update").exists()


def test_admin_adds_and_deletes_an_embargo_through_the_service(client, dco_admin):
    until = timezone.localtime(timezone.now() + timedelta(days=2))
    response = client.post(
        "/admin/policy/embargo/add/",
        {
            "topic": "Prix Nobel",
            "terms": "nobel",
            "until_0": until.strftime("%Y-%m-%d"),
            "until_1": until.strftime("%H:%M:%S"),
            "note": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    embargo = Embargo.objects.get(topic="Prix Nobel")
    assert embargo.created_by == dco_admin
    response = client.post(f"/admin/policy/embargo/{embargo.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert [
        e.action for e in AuditEntry.objects.filter(action__startswith="policy.").order_by("sequence")
    ] == [
        "policy.embargo_create",
        "policy.embargo_delete",
    ]


def test_admin_is_closed_to_non_dco_staff(client, make_user):
    from django.contrib.auth import get_user_model

    user = make_user("employee", username="staffer")
    # Staff status normally follows the dco role (accounts); force it to test the policy admin itself.
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
    client.force_login(get_user_model().objects.get(pk=user.pk))
    assert client.get("/admin/policy/policyrule/").status_code == 403
    assert client.get("/admin/policy/embargo/").status_code == 403


def test_admin_scopes_a_rule_to_networks_with_checkboxes(client, dco_admin, check):
    rule = PolicyRule.objects.get(code="network.measure")
    page = client.get(f"/admin/policy/policyrule/{rule.pk}/change/")
    assert 'type="checkbox" name="networks" value="facebook"' in page.content.decode()
    data = _rule_form(rule)
    data["networks"] = ["facebook", "instagram", "x"]
    data["_confirmed"] = "1"  # as posted by the preview page's button
    assert client.post(f"/admin/policy/policyrule/{rule.pk}/change/", data).status_code == 302
    entry = AuditEntry.objects.get(action="policy.rule_update")
    assert entry.details["changes"] == {
        "networks": [["facebook", "instagram"], ["facebook", "instagram", "x"]]
    }
    assert "network.measure" in {r.code for r in check("Bonjour", network="x").reasons}


def test_compiled_rules_expire_even_without_a_version_bump(monkeypatch):
    """Where the version cannot be shared (no Redis: per-process memory cache), or a change bypassed
    the signals, the compiled rules are rebuilt after MAX_AGE anyway."""
    first = selectors.compiled_rules()
    PolicyRule.objects.filter(code="equipment.weakness").update(severity="block")  # no signal
    assert selectors.compiled_rules() is first
    monkeypatch.setattr(selectors, "MAX_AGE", 0.0)
    rebuilt = selectors.compiled_rules()
    assert rebuilt is not first
    assert any(s.code == "equipment.weakness" and s.severity == "block" for s in rebuilt.specs)


def test_admin_previews_the_rulings_a_change_would_break_then_saves_it_as_previewed(client, dco_admin):
    """Issue 16: before it is saved, a rule change shows which recorded rulings it newly breaks.
    Mutation: preview_view calling save_model (or the service) -> the rule changes at preview and the
    first block of assertions fails."""
    import re

    relay = "Official statement from the agency: an anomaly occurred during the test."
    services.ruling_record(
        actor=dco_admin, text=relay, network="linkedin", account_kind="personal", crisis=True, verdict="warn"
    )
    rule = PolicyRule.objects.get(code="crisis.relay_official")
    form = _rule_form(rule, suppresses=[])  # lift nothing: relays fall back under the freeze
    form.pop("suppresses")
    change = client.get(f"/admin/policy/policyrule/{rule.pk}/change/").content.decode()
    assert 'name="_preview"' in change and f"/admin/policy/policyrule/{rule.pk}/change/preview/" in change

    preview = client.post(f"/admin/policy/policyrule/{rule.pk}/change/preview/", {**form, "_preview": "1"})
    assert preview.status_code == 200, preview.content.decode()[:2000]
    html = preview.content.decode()
    assert 'data-broken="1" data-fixed="0"' in html
    assert "Official statement from the agency" in html
    rule.refresh_from_db()
    assert rule.suppresses == ["crisis.freeze", "crisis.after_freeze"]
    assert not AuditEntry.objects.filter(action="policy.rule_update").exists()

    # The preview page's button posts the same form to the change view: saved, through the service.
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    assert hidden["code"] == "crisis.relay_official" and "suppresses" not in hidden
    assert hidden["_confirmed"] == "1"
    saved = client.post(f"/admin/policy/policyrule/{rule.pk}/change/", {**form, "_confirmed": "1"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    rule.refresh_from_db()
    assert rule.suppresses == []
    assert AuditEntry.objects.filter(
        action="policy.rule_update", details__code="crisis.relay_official"
    ).exists()


def test_admin_preview_of_a_broken_change_names_the_error_and_saves_nothing(client, dco_admin):
    rule = PolicyRule.objects.get(code="confidential.credential")
    response = client.post(
        f"/admin/policy/policyrule/{rule.pk}/change/preview/", _rule_form(rule, patterns="(oops")
    )
    assert response.status_code == 400
    assert "not a valid regular expression" in response.content.decode()
    assert not AuditEntry.objects.filter(action="policy.rule_update").exists()


def test_admin_preview_is_closed_to_non_dco_staff(client, make_user):
    from django.contrib.auth import get_user_model

    user = make_user("employee", username="staffer2")
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
    client.force_login(get_user_model().objects.get(pk=user.pk))
    rule = PolicyRule.objects.get(code="confidential.credential")
    assert (
        client.post(f"/admin/policy/policyrule/{rule.pk}/change/preview/", _rule_form(rule)).status_code
        == 403
    )


def test_admin_adds_a_rule_after_seeing_its_effect(client, dco_admin):
    services.ruling_record(
        actor=dco_admin,
        text="Le moteur a explosé, c'est la panique",
        network="linkedin",
        account_kind="personal",
        crisis=False,
        verdict="blocked",
    )
    data = {
        "code": "tone.alarm",
        "kind": "term",
        "severity": "block",
        "patterns": "panique\na explosé",
        "account_kind": "",
        "condition": "always",
        "message_fr": "Pas d'alarme.",
        "message_en": "No alarm.",
        "enabled": "on",
        "quote_match": "on",
    }
    shown = client.post("/admin/policy/policyrule/add/", data)
    assert shown.status_code == 200
    assert 'data-broken="0" data-fixed="1"' in shown.content.decode()
    assert not PolicyRule.objects.filter(code="tone.alarm").exists()
    saved = client.post("/admin/policy/policyrule/add/", {**data, "_confirmed": "1"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert AuditEntry.objects.filter(action="policy.rule_create", details__code="tone.alarm").exists()


def test_admin_deletion_page_shows_its_effect_on_the_rulings(client, dco_admin):
    services.ruling_record(
        actor=dco_admin,
        text="Official statement from the agency: an anomaly occurred during the test.",
        network="linkedin",
        account_kind="personal",
        crisis=True,
        verdict="warn",
    )
    rule = PolicyRule.objects.get(code="crisis.relay_official")
    page = client.get(f"/admin/policy/policyrule/{rule.pk}/delete/").content.decode()
    assert 'data-broken="1" data-fixed="0"' in page and "Official statement from the agency" in page
    assert PolicyRule.objects.filter(code="crisis.relay_official").exists()
