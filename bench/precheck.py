#!/usr/bin/env python
"""Pre-publication check throughput: 1,000 rules plus the guide's own over 10,000 posts.

Measured: the matcher the service uses (apps.policy.matcher.CompiledRules, token index), fed
in-memory rules — 1,000 generated term rules AND every rule of the guide (apps/policy/guide.py: its
terms, its regular expressions for disclosed secrets and relays, its scopes), checked as during a
crisis freeze so that the crisis rules run too — against a baseline of ONE compiled regular
expression (an alternation of the same terms with word boundaries), in the same run, on the same
folded posts. The matcher does strictly more (the guide's regexes, scopes, lifts, quoting); the run
checks both agree on which posts a term matches.

No database, so it runs the same with DATABASE_URL unset (make bench on the embedded server): the
matcher is pure Python by design (the service compiles the same RuleSpec objects from the PolicyRule
and Embargo tables; the guide's rules are read from apps/policy/guide.py, as migrations install
them). Rules and posts are generated from a fixed seed.

    .venv/bin/python bench/precheck.py [--rules 1000] [--posts 10000] [--repeat 3]
"""

import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.policy import matcher  # after the path tweak; needs no Django setup

SYLLABLES = [
    "ba", "ré", "to", "mi", "ça", "lu", "pé", "no", "gè", "sa", "vi", "dé", "ko", "fa", "ul", "tri",
    "spa", "cos", "mé", "gra", "vo", "lan", "ceur", "or", "bi", "té", "sat", "el", "li", "ta", "ni",
    "ra", "dar", "son", "de", "ex", "po", "pla", "nè", "te", "ion", "ca", "ther", "mo", "ly", "zé",
]  # fmt: skip


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def make_rules(rng: random.Random, common: list[str], rare: list[str], count: int) -> list[matcher.RuleSpec]:
    """Rule terms use rare words (as real rules do: "ITAR", "défaillance"), sometimes after a
    common one ("secret défense"), so that most posts match nothing unless a term was put in."""
    specs = []
    terms = set()
    while len(specs) < count:
        roll = rng.random()
        if roll < 0.70:
            term = rng.choice(rare)
        elif roll < 0.95:
            term = f"{rng.choice(common)} {rng.choice(rare)}"
        else:
            term = f"{rng.choice(common)} {rng.choice(common)} {rng.choice(rare)}"
        if rng.random() < 0.05 and " " not in term:
            term = term[: max(6, len(term) - 2)] + "*"  # a word prefix
        if term in terms:
            continue
        terms.add(term)
        specs.append(
            matcher.RuleSpec(
                key=f"rule:{len(specs)}",
                code=f"bench.rule_{len(specs):04d}",
                kind=matcher.TERM,
                severity=matcher.BLOCK if rng.random() < 0.3 else matcher.WARN,
                patterns=(term,),
            )
        )
    return specs


def make_posts(rng: random.Random, vocabulary: list[str], specs, count: int) -> list[str]:
    posts = []
    for _ in range(count):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(30, 60))]
        if rng.random() < 0.3:  # about a third of the posts carry one rule's term, in any case
            term = rng.choice(specs).patterns[0].replace("*", "ment")
            words.insert(rng.randrange(len(words)), term.upper() if rng.random() < 0.3 else term)
        text = []
        for word in words:
            if rng.random() < 0.1:
                word = word.capitalize()
            text.append(word + (rng.choice([",", ".", " !", " :"]) if rng.random() < 0.08 else ""))
        posts.append(" ".join(text))
    return posts


def baseline_regex(specs) -> re.Pattern:
    """One alternation of every term, longest first, whole words, on folded text."""
    alternatives = []
    for spec in specs:
        for term in spec.patterns:
            tokens = matcher.term_tokens(term)
            parts = [re.escape(word) + (r"\w*" if prefix else "") for word, prefix in tokens]
            alternatives.append(r"\W+".join(parts))
    alternatives.sort(key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


def guide_specs() -> list[matcher.RuleSpec]:
    from apps.policy.guide import GUIDE_RULES

    return [
        matcher.RuleSpec(
            key=rule["code"],
            code=rule["code"],
            kind=rule["kind"],
            severity=rule["severity"],
            patterns=tuple(rule.get("patterns", ())),
            networks=frozenset(rule.get("networks", ())),
            account_kind=rule.get("account_kind", ""),
            condition=rule.get("condition", matcher.ALWAYS),
            on_photo=rule.get("on_photo", False),
            suppresses=frozenset(rule.get("suppresses", ())),
        )
        for rule in GUIDE_RULES
        if rule["kind"] != matcher.EMBARGO
    ]


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the best counts")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    vocabulary = make_vocabulary(rng, 25_000)
    rng.shuffle(vocabulary)
    common, rare = vocabulary[:20_000], vocabulary[20_000:]
    specs = make_rules(rng, common, rare, args.rules)
    posts = make_posts(rng, common, specs, args.posts)
    guide_rules = guide_specs()
    state = {"network": "linkedin", "account_kind": "personal", "crisis_state": matcher.FREEZE}
    # The baseline's alternation holds every term rule that applies in this setting.
    term_specs = [
        spec
        for spec in [*specs, *guide_rules]
        if spec.kind == matcher.TERM and spec.applies(**state, now=None)
    ]

    started = time.perf_counter()
    compiled = matcher.CompiledRules.build([*specs, *guide_rules])
    matcher_compile = time.perf_counter() - started
    started = time.perf_counter()
    pattern = baseline_regex(term_specs)
    baseline_compile = time.perf_counter() - started

    # The matcher as the service calls it: folding, matching, quoting what matched, verdict.
    def run_matcher():
        found = []
        for post in posts:
            hits = compiled.match(post, **state)
            matcher.verdict_of(hits)
            found.append(any(hit.spec.kind == matcher.TERM for hit in hits))
        return found

    def run_baseline():
        return [bool(pattern.findall(matcher.fold(post))) for post in posts]

    # For scale: the guide's own rules alone (terms, regexes, scopes) on the same posts.
    guide = matcher.CompiledRules.build(guide_rules)

    def run_guide():
        for post in posts:
            guide.match(post, **state)

    # Each side's best of --repeat runs, alternated, in CPU time of this process: both are single-
    # threaded and CPU-bound, and on a shared machine wall-clock time mostly measures the neighbours.
    timings = {"matcher": [], "baseline": [], "guide": []}
    for _ in range(args.repeat):
        for name, run in (("matcher", run_matcher), ("baseline", run_baseline), ("guide", run_guide)):
            started = time.process_time()
            result = run()
            timings[name].append(time.process_time() - started)
            if name == "matcher":
                matcher_hits = result
            elif name == "baseline":
                baseline_hits = result
    matcher_seconds, baseline_seconds, guide_seconds = (
        min(timings[n]) for n in ("matcher", "baseline", "guide")
    )

    agree = sum(a == b for a, b in zip(matcher_hits, baseline_hits, strict=True))
    matcher_rate = rate(len(posts), matcher_seconds)
    baseline_rate = rate(len(posts), baseline_seconds)
    print(
        f"precheck bench: {len(specs)} generated rules + the guide's {len(guide_rules)}, {len(posts)} posts "
        f"(crisis freeze), {sum(matcher_hits)} posts with a term match"
    )
    print(
        f"  compile: matcher {matcher_compile * 1000:.1f} ms, single regex {baseline_compile * 1000:.1f} ms"
    )
    print(f"  matcher (token index):        {matcher_rate:12,.0f} checks/s  ({matcher_seconds:.2f} s CPU)")
    print(f"  baseline (one compiled regex): {baseline_rate:11,.0f} checks/s  ({baseline_seconds:.2f} s CPU)")
    print(f"  ratio matcher/baseline: {matcher_rate / baseline_rate:.1f}x (target: at least 5x)")
    print(
        f"  (the guide's {len(guide)} rules alone, same posts: "
        f"{rate(len(posts), guide_seconds):,.0f} checks/s)"
    )
    print(f"  agreement on which posts match: {agree}/{len(posts)}")
    if agree != len(posts):
        print("  WARNING: the matcher and the baseline disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
