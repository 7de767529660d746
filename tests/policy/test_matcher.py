"""The matcher on its own (no database): normalisation, word boundaries, scope, quoting."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.policy import matcher
from apps.policy.matcher import CompiledRules, RuleSpec


def rules(*specs):
    return CompiledRules.build(specs)


def term(code, *patterns, **kw):
    return RuleSpec(
        key=code, code=code, kind=matcher.TERM, severity=kw.pop("severity", "warn"), patterns=patterns, **kw
    )


def codes(compiled, text, **kw):
    kw.setdefault("network", "linkedin")
    kw.setdefault("account_kind", "personal")
    return {h.spec.code for h in compiled.match(text, **kw)}


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        ("défaillance", "Une DEFAILLANCE du moteur", True),
        ("defaillance", "une défaillance", True),
        ("défaillance", "une de\u0301faillance (texte décomposé NFD)", True),
        ("c'est faux", "C\u2019EST FAUX, évidemment", True),
        ("secret défense", "classé secret-défense", True),
        ("secret défense", "secret\ndéfense", True),
        ("panne", "les panneaux solaires", False),
        ("panne", "moteur en panne.", True),
        ("endommag*", "une antenne endommagée", True),
        ("endommag*", "un dommage", False),
        ("mot de passe", "mot de passeport", False),
        ("straße", "STRASSE", True),
        ("œuvre", "Œuvre collective", True),
    ],
)
def test_terms_are_whole_words_accent_and_case_insensitive(pattern, text, hit):
    assert (codes(rules(term("t", pattern)), text) == {"t"}) is hit


def test_regex_can_opt_out_of_case_insensitivity():
    compiled = rules(
        RuleSpec(key="dr", code="dr", kind=matcher.REGEX, severity="warn", patterns=(r"(?-i:\bDR\b)",))
    )
    assert codes(compiled, "Note DR du projet") == {"dr"}
    assert codes(compiled, "Conférence du Dr Martin") == set()


def test_regex_runs_on_text_without_accents():
    compiled = rules(
        RuleSpec(
            key="e", code="e", kind=matcher.REGEX, severity="warn", patterns=(r"controle des exportations",)
        )
    )
    assert codes(compiled, "Le CONTRÔLE des exportations") == {"e"}


def test_fragment_quotes_the_original_words_even_when_folding_changes_length():
    compiled = rules(term("t", "défaillance"))
    # "ﬁ" (one character) folds to "fi" (two): the quote must still be the original words.
    [hit] = compiled.match("ﬁchier : Défaillance du bus", network="x", account_kind="personal")
    assert hit.fragment == "Défaillance"
    [hit] = compiled.match("Rapport : DÉFAILLANCE", network="x", account_kind="personal")
    assert hit.fragment == "DÉFAILLANCE"


def test_scope_network_account_kind_and_crisis_condition():
    compiled = rules(
        RuleSpec(key="v", code="v", kind=matcher.SCOPE, severity="block", networks=frozenset({"youtube"}),
                 account_kind="personal"),
        RuleSpec(key="f", code="f", kind=matcher.SCOPE, severity="block", condition=matcher.FREEZE),
        RuleSpec(key="a", code="a", kind=matcher.SCOPE, severity="warn", condition=matcher.AFTER_FREEZE),
        term("d", "démenti", condition=matcher.CRISIS),
        term("p", "démenti", condition=matcher.NO_CRISIS),
    )  # fmt: skip
    assert codes(compiled, "démenti", network="youtube") == {"v", "p"}
    assert codes(compiled, "démenti", network="youtube", account_kind="official") == {"p"}
    assert codes(compiled, "démenti", crisis_state=matcher.FREEZE) == {"f", "d"}
    assert codes(compiled, "démenti", crisis_state=matcher.AFTER_FREEZE) == {"a", "d"}


def test_embargo_spec_stops_matching_when_it_ends():
    until = datetime(2026, 1, 1, tzinfo=UTC)
    compiled = rules(
        RuleSpec(key="e", code="embargo.active", kind=matcher.EMBARGO, severity="block", patterns=("Juice",),
                 until=until)
    )  # fmt: skip
    assert codes(compiled, "Juice arrive", now=until - timedelta(seconds=1)) == {"embargo.active"}
    assert codes(compiled, "Juice arrive", now=until) == set()


def test_photo_rule_fires_on_words_or_on_the_flag():
    compiled = rules(term("photo", "photo", on_photo=True))
    assert codes(compiled, "Une belle photo") == {"photo"}
    assert codes(compiled, "Rien à voir") == set()
    assert codes(compiled, "Rien à voir", has_photo=True) == {"photo"}


def test_hits_are_sorted_most_severe_first_and_verdict_follows():
    compiled = rules(
        term("w", "alpha"), term("b", "beta", severity="block"), term("i", "gamma", severity="info")
    )
    hits = compiled.match("gamma alpha beta", network="x", account_kind="personal")
    assert [h.spec.code for h in hits] == ["b", "w", "i"]
    assert matcher.verdict_of(hits) == "blocked"
    assert matcher.verdict_of(hits[1:]) == "warn"
    assert matcher.verdict_of(hits[2:]) == "allowed"
    assert matcher.verdict_of([]) == "allowed"


def test_a_thousand_terms_match_like_one_big_regex():
    """The token index agrees with the single-regex baseline of the bench on generated data."""
    import random
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import precheck as bench

    rng = random.Random(7)
    vocabulary = bench.make_vocabulary(rng, 3000)
    specs = bench.make_rules(rng, vocabulary[:2000], vocabulary[2000:], 1000)
    posts = bench.make_posts(rng, vocabulary[:2000], specs, 300)
    compiled = CompiledRules.build(specs)
    pattern = bench.baseline_regex(specs)
    for post in posts:
        assert bool(compiled.match(post, network="x", account_kind="official")) == bool(
            pattern.search(matcher.fold(post))
        ), post


def test_regex_gates_never_hide_a_match():
    """The literal gate skips a regex scan only when the regex cannot match: checked on every
    seeded regex against the table's posts and some awkward ones."""
    from apps.policy.guide import GUIDE_RULES
    from tests.policy.test_table import CASES

    texts = [case[0] for case in CASES] + [
        "PASSWORD=Ab1!xyz",
        "Mdp: Ete2026!",
        "\u0131tar controlled",  # dotless i: re.IGNORECASE equates it with i, casefold does not
        "ITAR-CONTROLLED",
        "Soumis à l'ITAR",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "ftp://bob:S3cret!@files.example",
        "Appelez le +33 6 12 34 56 78",
        "EAR 99 / ECCN 9A515",
    ]
    checked = 0
    for rule in GUIDE_RULES:
        if rule["kind"] != "regex":
            continue
        for raw in rule["patterns"]:
            pattern = matcher.compile_regex(raw)
            gate = matcher.required_literals(matcher.fold(raw, casefold=False))
            for text in texts:
                if pattern.search(matcher.fold(text, casefold=False)):
                    checked += 1
                    assert gate is None or any(lit in matcher.fold(text) for lit in gate), (raw, text)
    assert checked >= 15


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"(?-i:\bDR\b)", {"dr"}),
        (r"-----BEGIN [A-Z ]*PRIVATE KEY-----", {"private key-----"}),
        (r"\b(?:mdp|pwd)\s*:", {"mdp", "pwd"}),
        (r"x{0,3}", None),
        (r"(?:ab|c*)", None),
        (r"\d+", None),
    ],
)
def test_required_literals(pattern, literals):
    found = matcher.required_literals(pattern)
    assert (set(found) if found is not None else None) == literals


def test_word_gates_never_hide_a_match():
    """The word gate skips a regex scan only when no word of the post starts as the pattern requires:
    checked on every seeded regex against the table's posts, the principles' posts, the corpus and
    awkward ones (case, accents, apostrophes, punctuation glued to the words).

    Mutation: required_word_starts treating a lookbehind like a lookahead (`arg[0] == 1` check removed)
    -> "(?<=x)" patterns would gate on the lookbehind's words; on the guide, removing the `\\b` that
    _THIS_SECRET puts before the secret words changes nothing here (the gate goes None, accepted).
    """
    from apps.policy.guide import GUIDE_RULES
    from apps.policy.selectors import corpus_entries
    from tests.policy.test_principles import ABOUT_PASSWORDS, ADDITIONS, RELAYS, SECRETS, SECRETS_IN_PHOTOS
    from tests.policy.test_table import CASES

    texts = (
        [case[0] for case in CASES]
        + [entry["text"] for entry in corpus_entries()]
        + SECRETS
        + SECRETS_IN_PHOTOS
        + ABOUT_PASSWORDS
        + [text for text, _ in RELAYS + ADDITIONS]
        + [
            "MDP:Soleil2024",
            "«mdp» : «Soleil»",
            "Le MOT DE PASSE est Ariane5",
            "(password: Xy12!kq9)",
            "post-it avec LE mot de passe",
            "COMMUNIQUÉ OFFICIEL : rien à ajouter",
            "—Communiqué de presse— texte",
            "l\u2019identifiant : jdupont / Lune2024",
        ]
    )
    checked = 0
    for rule in GUIDE_RULES:
        if rule["kind"] != "regex":
            continue
        for raw in rule["patterns"]:
            soft_pattern = matcher.fold(raw, casefold=False)
            words = matcher.required_word_starts(soft_pattern)
            if words is None:
                continue
            pattern = matcher.compile_regex(raw)
            for text in texts:
                if pattern.search(matcher.fold(text, casefold=False)):
                    checked += 1
                    tokens = re.findall(r"\w+", matcher.fold(text))
                    assert any(t.startswith(w) for t in tokens for w in words), (rule["code"], text)
    assert checked >= 40


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"\bmdp\s*:", {"mdp"}),
        (r"\b(?:mots? de passe|mdp)\b", {"passe", "mdp"}),  # "passe" follows a space: a word start
        (r"^\W*\b(?:communique|statement)\b", {"communique", "statement"}),
        (r"mdp", None),  # no boundary before: "xmdp" matches, no word starts with mdp
        (r"\b(?:mdp|je)\b", None),  # "je" is shorter than the word head
        (r"\b(?:le\s+)?mdp", None),  # after an optional part the boundary is not known
        (r"(?<=x)\bmdp", {"mdp"}),
        (r"\bpass ?phrase", {"pass"}),
    ],
)
def test_required_word_starts(pattern, words):
    """Mutation: words_of counting every word as a word start (`starts` forced True) -> the "mdp"
    case fails."""
    found = matcher.required_word_starts(pattern)
    assert (set(found) if found is not None else None) == words


def test_a_regex_behind_a_word_gate_still_fires_and_a_post_without_the_word_costs_no_scan():
    """Mutation: the word-gate check inverted (`if common` instead of `if not common`) -> the first
    assertion fails; the gate removed -> nothing fails here but the bench loses its ratio."""
    compiled = rules(
        RuleSpec(key="c", code="c", kind=matcher.REGEX, severity="block", patterns=(r"\bmdp\s*:\s*\S+",))
    )
    (entry,) = compiled.regexes
    assert entry[3] == {"mdp": ("mdp",)}
    assert codes(compiled, "Le MDP : Soleil") == {"c"}
    assert codes(compiled, "Le xmdp : Soleil") == set()


def _ungated(compiled):
    """The same rules with every regex run on every post: the reference the gates must agree with."""
    import dataclasses

    return dataclasses.replace(
        compiled,
        regexes=[(index, pattern, None, None) for index, pattern, _gate, _words in compiled.regexes],
        gate_words={},
        gate_heads=frozenset(),
        _scope_cache={},
    )


_PIECES = [
    "mdp", "MDP", "mot de passe", "mots de passe", "password", "Passcode", "digicode", "code", "codes",
    "d'accès", "identifiants", "login", "pin", "PIN", "post-it", "photo", "on voit", "visible", "est",
    "is", "le", "la", "les", "notre", "mon", "our", "the", "sur", "ne", "jamais", "never", ":", "=", "«",
    "»", '"', "(", ")", "/", ".", "!", "\n", "Soleil2024", "soleil", "4521", "#", "Ariane-5", "x",
    "communiqué", "Communiqué officiel", "official statement", "je relaie", "RT @CNES:", "@critic",
    "en réponse à", "à mon avis", "c'est faux", "ITAR", "controlled", "EAR99", "06 12 34 56 78", "+33",
    "https://a:b@c.example", "é", "\u2019", "-", "_", "xmdp", "passe", "phrase", "secrète", "Wi-Fi", "pass",
    "passphrase",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=14),
    st.lists(st.sampled_from([" ", "", "  "]), min_size=14, max_size=14),
)
def test_gates_agree_with_running_every_regex(pieces, gaps):
    """Property: on texts made of the words the guide's regexes look for, glued or spaced in any
    order, the gated matcher finds exactly what running every regex finds.

    Mutation: gate words compared whole (`token == word` instead of `token.startswith(word)`) ->
    hypothesis finds a text where they differ. (Forcing every word of a literal to count as a word
    start changes no gate of the guide's own patterns: test_required_word_starts catches that one.)"""
    from apps.policy.guide import GUIDE_RULES

    specs = [
        RuleSpec(
            key=r["code"],
            code=r["code"],
            kind=r["kind"],
            severity=r["severity"],
            patterns=tuple(r["patterns"]),
        )
        for r in GUIDE_RULES
        if r["kind"] == matcher.REGEX
    ]
    compiled = _GATED.setdefault("compiled", CompiledRules.build(specs))
    reference = _GATED.setdefault("reference", _ungated(compiled))
    text = "".join(piece + gap for piece, gap in zip(pieces, gaps, strict=False))
    gated = {h.spec.code for h in compiled.match(text, network="x", account_kind="personal", quote=False)}
    full = {h.spec.code for h in reference.match(text, network="x", account_kind="personal", quote=False)}
    assert gated == full, text


_GATED: dict = {}
