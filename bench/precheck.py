#!/usr/bin/env python
"""Pre-publication check throughput: 1,000 rules over 10,000 posts.

Measured: the matcher the service uses (apps.policy.matcher.CompiledRules, token index), fed
in-memory rules, against a baseline of ONE compiled regular expression (an alternation of all the
terms with word boundaries), in the same run, on the same folded posts. Both find whole-word,
accent- and case-insensitive matches; the run checks they agree on which posts match.

No database: the matcher is pure Python by design (the service compiles the same RuleSpec objects
from the PolicyRule and Embargo tables). Rules and posts are generated from a fixed seed.

    .venv/bin/python bench/precheck.py [--rules 1000] [--posts 10000]
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
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    vocabulary = make_vocabulary(rng, 25_000)
    rng.shuffle(vocabulary)
    common, rare = vocabulary[:20_000], vocabulary[20_000:]
    specs = make_rules(rng, common, rare, args.rules)
    posts = make_posts(rng, common, specs, args.posts)

    started = time.perf_counter()
    compiled = matcher.CompiledRules.build(specs)
    matcher_compile = time.perf_counter() - started
    started = time.perf_counter()
    pattern = baseline_regex(specs)
    baseline_compile = time.perf_counter() - started

    # The matcher as the service calls it: folding, matching, quoting what matched, verdict.
    started = time.perf_counter()
    matcher_hits = []
    for post in posts:
        hits = compiled.match(post, network="linkedin", account_kind="personal")
        matcher.verdict_of(hits)
        matcher_hits.append(bool(hits))
    matcher_seconds = time.perf_counter() - started

    started = time.perf_counter()
    baseline_hits = [bool(pattern.findall(matcher.fold(post))) for post in posts]
    baseline_seconds = time.perf_counter() - started

    # For scale: the guide's own ~25 rules (terms, regexes, scopes) on the same posts.
    guide = matcher.CompiledRules.build(guide_specs())
    started = time.perf_counter()
    for post in posts:
        guide.match(post, network="linkedin", account_kind="personal", has_photo=False)
    guide_seconds = time.perf_counter() - started

    agree = sum(a == b for a, b in zip(matcher_hits, baseline_hits, strict=True))
    matcher_rate = rate(len(posts), matcher_seconds)
    baseline_rate = rate(len(posts), baseline_seconds)
    print(f"precheck bench: {len(specs)} rules, {len(posts)} posts, {sum(matcher_hits)} posts with a match")
    print(
        f"  compile: matcher {matcher_compile * 1000:.1f} ms, single regex {baseline_compile * 1000:.1f} ms"
    )
    print(f"  matcher (token index):        {matcher_rate:12,.0f} checks/s  ({matcher_seconds:.2f} s)")
    print(f"  baseline (one compiled regex): {baseline_rate:11,.0f} checks/s  ({baseline_seconds:.2f} s)")
    print(f"  ratio matcher/baseline: {matcher_rate / baseline_rate:.1f}x")
    print(
        f"  (the guide's {len(guide)} seeded rules, same posts: "
        f"{rate(len(posts), guide_seconds):,.0f} checks/s)"
    )
    print(f"  agreement on which posts match: {agree}/{len(posts)}")
    if agree != len(posts):
        print("  WARNING: the matcher and the baseline disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
