"""The rule matcher: pure Python, no database, so the bench and unit tests use it as the service does.

Text is folded once (NFKD, combining marks removed, casefold, typographic apostrophes made plain)
and cut into word tokens. Term rules are indexed by their first token in a dict, so a check costs a
few dictionary lookups per word of the post whatever the number of rules; regular expressions are
reserved for the few patterns that need them (credentials, case-sensitive acronyms).

Term syntax: words separated by spaces or punctuation ("c'est faux" also matches "C'EST faux" with a
typographic apostrophe; "secret-défense" matches "secret défense"); a word ending in `*` matches any
word starting with it ("défaillan*" matches "défaillance", "défaillances"). Whole words only.

Regex syntax: Python `re`, case-insensitive, run on the text with accents removed but case kept, so a
pattern may opt out of case-insensitivity with `(?-i:...)` (e.g. `(?-i:\\bDR\\b)` for the
"Diffusion Restreinte" label, not "Dr Martin").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TERM, REGEX, SCOPE, EMBARGO = "term", "regex", "scope", "embargo"
INFO, WARN, BLOCK = "info", "warn", "block"
SEVERITY_RANK = {INFO: 0, WARN: 1, BLOCK: 2}
ALWAYS, CRISIS, FREEZE, AFTER_FREEZE = "always", "crisis", "freeze", "after_freeze"
# Crisis states a check runs in (see crisis_state_for): no crisis, freeze in force, freeze over.
NO_CRISIS = "none"

_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Typographic apostrophes (U+2019 and kin) count as the plain apostrophe.
# The dotless i (U+0131) counts as "i": accent-insensitive matching should equate them, and it is the
# one letter that re.IGNORECASE equates with an ASCII letter when casefold does not (required_literals).
_APOSTROPHES = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'", "\u0131": "i"}
)
_WORD = re.compile(r"\w+")


def fold(text: str, *, casefold: bool = True) -> str:
    """Accent-insensitive (and by default case-insensitive) form of `text`."""
    if text.isascii():  # fast path: nothing to decompose
        text = text.translate(_APOSTROPHES)
        return text.lower() if casefold else text
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text)).translate(_APOSTROPHES)
    return text.casefold() if casefold else text


def fold_with_offsets(text: str, *, casefold: bool = True) -> tuple[str, list[int]]:
    """fold(text) and, for each folded character, the index of the original character it came from.

    Character by character, so only used to quote what matched, never on the hot path.
    """
    out: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        piece = fold(char, casefold=casefold)
        out.append(piece)
        offsets.extend([index] * len(piece))
    return "".join(out), offsets


def term_tokens(term: str) -> tuple[tuple[str, bool], ...]:
    """A term as (word, is_prefix) pairs; empty when the term has no word at all."""
    folded = fold(term)
    tokens = []
    for match in re.finditer(r"(\w+)(\*?)", folded):
        tokens.append((match.group(1), bool(match.group(2))))
    return tuple(tokens)


def compile_regex(pattern: str) -> re.Pattern:
    """Compile a regex rule pattern the way the matcher runs it (accents removed, case-insensitive)."""
    return re.compile(fold(pattern, casefold=False), re.IGNORECASE)


# Run in a child process, so that a runaway pattern can be killed: each pattern against repetitive
# inputs (short ones for exponential backtracking, long ones for polynomial), printing its index first.
_PROBE = """
import re, sys
texts = [c * n + "!" for n in (28, 4000) for c in ("a", "1", " ", "a1", "ab ", "-", ".", "aA", "é")]
for index, pattern in enumerate(sys.argv[1:]):
    print(index, flush=True)
    compiled = re.compile(pattern, re.IGNORECASE)
    for text in texts:
        compiled.search(text)
"""


def slow_patterns(patterns: list[str], *, budget: float = 2.0) -> list[str]:
    """The regex patterns that do not get through repetitive probe texts within `budget` seconds
    (catastrophic backtracking): every check runs them, so one such pattern would stall the service.
    A heuristic guard for patterns the DCO writes, run when a rule is saved, never on the hot path."""
    import subprocess
    import sys

    folded = [fold(p, casefold=False) for p in patterns]
    if not folded:
        return []
    try:
        subprocess.run(  # noqa: S603 -- our own interpreter, patterns passed as arguments, no shell
            [sys.executable, "-I", "-c", _PROBE, *folded], capture_output=True, timeout=budget, check=False
        )
    except subprocess.TimeoutExpired as exc:
        printed = (exc.stdout or b"").decode(errors="replace").split()
        index = int(printed[-1]) if printed else 0
        return [patterns[index]]
    return []


@dataclass(frozen=True)
class RuleSpec:
    """One rule as the matcher sees it. `ref` is whatever the caller needs to render the reason."""

    key: str
    code: str
    kind: str
    severity: str
    patterns: tuple[str, ...] = ()
    networks: frozenset[str] = frozenset()  # empty: every network
    account_kind: str = ""  # empty: personal and official
    condition: str = ALWAYS
    on_photo: bool = False
    until: datetime | None = None  # embargoes: matches only before this instant
    # Codes of rules this one lifts when it fires and applies: relaying the agency's statement as it
    # stands lifts the crisis freeze, while any rule it does not name (an opinion, a denial) stays.
    suppresses: frozenset[str] = frozenset()
    ref: Any = None

    def applies(self, *, network: str, account_kind: str, crisis_state: str, now: datetime | None) -> bool:
        if self.networks and network not in self.networks:
            return False
        if self.account_kind and account_kind != self.account_kind:
            return False
        if self.until is not None and (now is None or now >= self.until):
            return False
        if self.condition == ALWAYS:
            return True
        if self.condition == CRISIS:
            return crisis_state in (FREEZE, AFTER_FREEZE)
        return crisis_state == self.condition


@dataclass
class Hit:
    spec: RuleSpec
    index: int = -1  # position of the spec in CompiledRules.specs
    fragment: str = ""  # the original text that matched, "" for scope and photo rules


@dataclass(frozen=True)
class _Entry:
    first: str  # the first word (or word prefix) of the term
    first_is_prefix: bool
    rest: tuple[tuple[str, bool], ...]
    spec_index: int


@dataclass
class CompiledRules:
    """Every enabled rule compiled once; `match` only reads it (but for a per-setting cache of scope
    rules, filled idempotently), so it is safe to share between threads."""

    specs: list[RuleSpec]
    # Terms by their first word; prefix terms ("défaillan*") by the first `prefix_key` characters
    # of their prefix, so that each word of a post costs two dictionary lookups at most.
    exact_first: dict[str, list[_Entry]] = field(default_factory=dict)
    prefix_first: dict[str, list[_Entry]] = field(default_factory=dict)
    prefix_key: int = 0
    # (spec index, compiled regex, gate, word gate): the regex runs only when one of the gate's literals
    # is in the folded text (gate None: always runs), or, when it has a word gate, only when a word of
    # the post starts with one of the word gate's words: a dict lookup by the word's first WORD_HEAD
    # characters instead of a substring scan per literal. See required_literals, required_word_starts.
    regexes: list[tuple[int, re.Pattern, tuple[str, ...] | None, dict[str, tuple[str, ...]] | None]] = field(
        default_factory=list
    )
    # Every word gate's words by their head: head → ((position in regexes, word), …), and the heads as
    # a set, so that one set intersection per post tells which word-gated regexes may run.
    gate_words: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    gate_heads: frozenset[str] = frozenset()
    always: list[int] = field(default_factory=list)
    photo: list[int] = field(default_factory=list)
    # (network, account kind, crisis state) → the scope rules that apply there; filled as met.
    _scope_cache: dict[tuple[str, str, str], list[int]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, specs: Iterable[RuleSpec]) -> CompiledRules:
        compiled = cls(specs=list(specs))
        prefix_entries = []
        for index, spec in enumerate(compiled.specs):
            if spec.on_photo:
                compiled.photo.append(index)
            if spec.kind == SCOPE:
                compiled.always.append(index)
            elif spec.kind == REGEX:
                patterns = [p for p in spec.patterns if p.strip()]
                # The patterns with a word gate run as one alternation behind the union of their gates;
                # each other pattern runs alone behind its own literal gate.
                worded, others = [], []
                for pattern in patterns:
                    folded_pattern = fold(pattern, casefold=False)
                    starts = required_word_starts(folded_pattern)
                    (worded if starts else others).append((folded_pattern, starts))
                if worded:
                    joined = "|".join(f"(?:{p})" for p, _starts in worded)
                    word_gate: dict[str, tuple[str, ...]] = {}
                    for word in sorted(frozenset().union(*(starts for _p, starts in worded))):
                        word_gate[word[:WORD_HEAD]] = (*word_gate.get(word[:WORD_HEAD], ()), word)
                    compiled.regexes.append((index, re.compile(joined, re.IGNORECASE), None, word_gate))
                for folded_pattern, _starts in others:
                    literals = required_literals(folded_pattern)
                    gate = tuple(sorted(literals)) if literals is not None else None
                    compiled.regexes.append((index, re.compile(folded_pattern, re.IGNORECASE), gate, None))
            elif spec.kind in (TERM, EMBARGO):
                for pattern in spec.patterns:
                    tokens = term_tokens(pattern)
                    if not tokens:
                        continue
                    (first, is_prefix), rest = tokens[0], tokens[1:]
                    entry = _Entry(first=first, first_is_prefix=is_prefix, rest=rest, spec_index=index)
                    if is_prefix:
                        prefix_entries.append(entry)
                    else:
                        compiled.exact_first.setdefault(first, []).append(entry)
        for position, (_index, _pattern, _gate, word_gate) in enumerate(compiled.regexes):
            for head, words in (word_gate or {}).items():
                compiled.gate_words[head] = (
                    *compiled.gate_words.get(head, ()),
                    *((position, word) for word in words),
                )
        compiled.gate_heads = frozenset(compiled.gate_words)
        if prefix_entries:
            compiled.prefix_key = min(len(e.first) for e in prefix_entries)
            for entry in prefix_entries:
                compiled.prefix_first.setdefault(entry.first[: compiled.prefix_key], []).append(entry)
        return compiled

    def __len__(self):
        return len(self.specs)

    def _term_hits(self, tokens: list[str]) -> dict[int, tuple[int, int]]:
        """spec index → (first token, token after the last) of its first match."""
        found: dict[int, tuple[int, int]] = {}
        exact = self.exact_first
        prefixes = self.prefix_first
        key = self.prefix_key
        count = len(tokens)
        for i, token in enumerate(tokens):
            candidates = exact.get(token)
            if prefixes:  # (a word shorter than the key is its own slice: no bucket has it)
                more = prefixes.get(token[:key])
                if more:
                    candidates = more if candidates is None else candidates + more
            if not candidates:
                continue
            for entry in candidates:
                if entry.spec_index in found:
                    continue
                if entry.first_is_prefix and not token.startswith(entry.first):
                    continue
                rest = entry.rest
                if i + len(rest) >= count:
                    continue
                ok = True
                for offset, (word, is_prefix) in enumerate(rest, start=1):
                    other = tokens[i + offset]
                    if not (other.startswith(word) if is_prefix else other == word):
                        ok = False
                        break
                if ok:
                    found[entry.spec_index] = (i, i + 1 + len(rest))
        return found

    def match(
        self,
        text: str,
        *,
        network: str,
        account_kind: str,
        has_photo: bool = False,
        crisis_state: str = NO_CRISIS,
        now: datetime | None = None,
        quote: bool = True,
    ) -> list[Hit]:
        """Every applicable rule that fires on this post, most severe first (then by code)."""
        soft = fold(text, casefold=False)
        folded = soft.casefold() if not soft.isascii() else soft.lower()  # == fold(text)
        tokens = _WORD.findall(folded)
        term_found = self._term_hits(tokens) if (self.exact_first or self.prefix_first) else {}
        regex_found: dict[int, tuple[int, int]] = {}
        if self.regexes:
            opened: set[int] = set()  # word-gated regexes (by position) some word of the post opens
            if self.gate_heads:
                common = self.gate_heads.intersection({token[:WORD_HEAD] for token in tokens})
                if common:  # most posts share no word head with any gate: one set operation in C
                    for token in tokens:
                        for position, word in self.gate_words.get(token[:WORD_HEAD], ()):
                            if token.startswith(word):
                                opened.add(position)
            for position, (index, pattern, gate, word_gate) in enumerate(self.regexes):
                if index in regex_found:
                    continue  # another of the rule's patterns matched already
                if word_gate is not None:
                    if position not in opened:
                        continue  # no word of the post starts as a word every match starts
                elif gate is not None and not (
                    gate[0] in folded if len(gate) == 1 else any(literal in folded for literal in gate)
                ):
                    continue  # a literal every match contains is absent: skip the scan
                found = pattern.search(soft)
                if found:
                    regex_found[index] = found.span()
        fired = [*term_found, *regex_found]
        if has_photo:
            fired.extend(self.photo)
        # Scope rules fire on every post: which of them apply depends on the setting only.
        setting = (network, account_kind, crisis_state)
        scoped = self._scope_cache.get(setting)
        if scoped is None:
            scoped = [
                index
                for index in self.always
                if self.specs[index].until is None
                and self.specs[index].applies(
                    network=network, account_kind=account_kind, crisis_state=crisis_state, now=None
                )
            ]
            if len(self._scope_cache) < 256:
                self._scope_cache[setting] = scoped
        hits = [Hit(spec=self.specs[index], index=index) for index in scoped]
        seen = set(scoped)
        fired.extend(index for index in self.always if self.specs[index].until is not None)
        for index in fired:
            if index in seen:
                continue
            seen.add(index)
            spec = self.specs[index]
            if spec.applies(network=network, account_kind=account_kind, crisis_state=crisis_state, now=now):
                hits.append(Hit(spec=spec, index=index))
        lifted = {code for hit in hits for code in hit.spec.suppresses}
        if lifted:
            hits = [hit for hit in hits if hit.spec.code not in lifted]
        if quote and (term_found or regex_found):  # scope and photo rules quote nothing
            self._quote(text, folded, hits, term_found, regex_found)
        hits.sort(key=lambda h: (-SEVERITY_RANK.get(h.spec.severity, 0), h.spec.code, h.spec.key))
        return hits

    def _quote(self, text, folded, hits, term_found, regex_found):
        """Fill each hit's fragment with the original words that matched (accents and case kept)."""
        spans: list[tuple[int, int]] = []
        words = None
        full_map = None
        for hit in hits:
            if hit.index in term_found:
                first, last = term_found[hit.index]
                if words is None:
                    words = _WORD.finditer(folded)
                    full_map = _offsets(text, folded, casefold=True)
                while len(spans) < last:  # the words' spans, only as far as the last word quoted
                    spans.append(next(words).span())
                hit.fragment = _slice(text, full_map, spans[first][0], spans[last - 1][1])
            elif hit.index in regex_found:
                soft_map = _offsets(text, fold(text, casefold=False), casefold=False)
                hit.fragment = _slice(text, soft_map, *regex_found[hit.index])


def required_literals(pattern: str) -> frozenset[str] | None:
    """Literals (casefolded) one of which appears in the folded text whenever `pattern` matches it
    case-insensitively; None when no such set can be proven. A cheap substring test then spares most
    regex scans (Python's re has no literal-prefix speed-up under IGNORECASE).

    Conservative by construction: only required parts of the pattern are used (sequence items,
    groups, alternations whose every branch yields a literal, repeats of at least one), and literals
    are cut at any non-ASCII character, whose case-insensitive matches may differ from casefold. For
    ASCII letters they agree on folded text: NFKD turns the Kelvin sign into K and the long s into s,
    and fold() turns the dotless i into i.
    """
    try:
        from re import _constants as c
        from re import _parser as parser

        tree = parser.parse(pattern, re.IGNORECASE)
    except Exception:  # a private module: if it ever changes, every regex simply runs
        return None

    def safe(literal: str) -> str:
        pieces = re.split(r"[\x80-\U0010ffff]", literal.casefold())
        return max(pieces, key=len)

    def best(candidates: list[frozenset[str]]) -> frozenset[str] | None:
        candidates = [c for c in candidates if c and all(c)]
        return max(candidates, key=lambda s: min(map(len, s)), default=None)

    def walk(items) -> frozenset[str] | None:
        candidates, run = [], []

        def close():
            if run:
                candidates.append(frozenset({safe("".join(run))}))
                run.clear()

        for op, arg in items:
            if op is c.LITERAL:
                run.append(chr(arg))
                continue
            close()
            if op is c.SUBPATTERN:
                found = walk(arg[-1])
            elif op is c.BRANCH:
                branches = [walk(branch) for branch in arg[1]]
                found = None if any(b is None for b in branches) else frozenset().union(*branches)
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)) and arg[0] >= 1:
                found = walk(arg[2])
            elif op is c.ASSERT:  # a positive lookaround's text is in the text, if not in the match
                found = walk(arg[1])
            else:
                found = None
            if found is not None:
                candidates.append(found)
        close()
        return best(candidates)

    try:
        return walk(tree.data)
    except Exception:
        return None


WORD_HEAD = 3  # word gates compare the first 3 characters of words (shorter gate words: no word gate)


def required_word_starts(pattern: str) -> frozenset[str] | None:
    """Word beginnings (casefolded, at least WORD_HEAD characters) one of which begins a word of the
    folded text whenever `pattern` matches it; None when no such set can be proven.

    A word of a literal counts when it follows a word boundary (\\b, ^, \\A) or an ASCII non-word
    character (a space, an apostrophe) in a required part of the pattern: then a word of the text
    starts with it.
    Cheaper than required_literals at match time: one set lookup per gate word against the post's
    word heads, computed once for all rules. The same conservative walk: required parts only, cut at
    any non-ASCII character.
    """
    try:
        from re import _constants as c
        from re import _parser as parser

        tree = parser.parse(pattern, re.IGNORECASE)
    except Exception:
        return None
    boundaries = {c.AT_BOUNDARY, c.AT_BEGINNING, c.AT_BEGINNING_STRING}

    def words_of(run: str, at_boundary: bool, prefix: str) -> tuple[list[str], bool, str]:
        """The words of a literal run that start a word of the text (after a boundary or a non-word
        character of the run itself; `prefix`: a word already begun so), whether the run ends on a
        non-word character, and the word it leaves open (begun at a word start), if any."""
        words, current, starts = [], (list(prefix) if prefix else []), at_boundary
        for char in run.casefold():
            if char.isascii() and (char.isalnum() or char == "_"):
                if not current and not starts:
                    current = None  # the word may continue a word of the text: not a word start
                if current is not None:
                    current.append(char)
                starts = False
                continue
            if current:
                words.append("".join(current))
            current = []
            # After an ASCII non-word character a word starts; after anything else, who knows.
            starts = char.isascii()
        open_word = "".join(current) if current else ""
        if open_word:
            words.append(open_word)
        return words, starts, open_word

    def walk(items, at_boundary: bool, prefix: str = "") -> frozenset[str] | None:
        # `prefix`: the word a literal just before this group began at a word start. The parser
        # factors common prefixes out of alternations ("mots? de passe|mdp" becomes "m" then
        # "ots? de passe|dp"), so the group's first literal continues that word.
        candidates = []
        index = 0
        items = list(items)
        while index < len(items):
            op, arg = items[index]
            if op is c.AT:
                at_boundary = arg in boundaries
                prefix = ""
                index += 1
                continue
            if op is c.LITERAL:
                run = []
                while index < len(items) and items[index][0] is c.LITERAL:
                    run.append(chr(items[index][1]))
                    index += 1
                words, at_boundary, prefix = words_of("".join(run), at_boundary, prefix)
                words = [word for word in words if len(word) >= WORD_HEAD]
                if words:  # every one is required: the longest is the most selective
                    candidates.append(frozenset({max(words, key=len)}))
                continue
            found = None
            if op is c.SUBPATTERN:
                found = walk(arg[-1], at_boundary, prefix)
            elif op is c.BRANCH:
                branches = [walk(branch, at_boundary, prefix) for branch in arg[1]]
                found = None if any(b is None for b in branches) else frozenset().union(*branches)
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)) and arg[0] >= 1:
                found = walk(arg[2], at_boundary, prefix)
            elif op is c.ASSERT and arg[0] == 1:  # a lookahead: text at this very position
                found = walk(arg[1], at_boundary, prefix)
                if found is not None:
                    candidates.append(found)
                index += 1
                continue  # consumes nothing: still at the same place
            if found is not None:
                candidates.append(found)
            at_boundary = False
            prefix = ""
            index += 1
        candidates = [found for found in candidates if found]
        return max(candidates, key=lambda words: min(map(len, words)), default=None)

    try:
        return walk(tree.data, False)
    except Exception:
        return None


def _offsets(text: str, folded: str, *, casefold: bool) -> list[int] | None:
    """Folded position → original position; None when they are the same (the usual case: folding
    Latin text keeps its length, each accented letter becoming its base letter)."""
    if len(folded) == len(text):
        return None
    return fold_with_offsets(text, casefold=casefold)[1]


def _slice(text: str, offsets: list[int] | None, start: int, end: int) -> str:
    if offsets is None:
        return text[start:end]
    if start >= len(offsets) or end <= start:
        return ""
    return text[offsets[start] : offsets[end - 1] + 1]


def verdict_of(hits: Iterable[Hit]) -> str:
    worst = max((SEVERITY_RANK.get(h.spec.severity, 0) for h in hits), default=0)
    return {0: "allowed", 1: "warn", 2: "blocked"}[worst]


def crisis_state_for(crisis, now: datetime) -> str:
    """NO_CRISIS, FREEZE (before freeze_until) or AFTER_FREEZE, for a crisis row or None."""
    if crisis is None:
        return NO_CRISIS
    return FREEZE if now < crisis.freeze_until else AFTER_FREEZE
