"""Multi-pattern matching with word-boundary and inflection rules (Aho-Corasick underneath).

One automaton finds every candidate in linear time; the boundary rules then decide, per script,
whether a candidate is a whole word: Latin/Cyrillic/Arabic names need a word start (or an
allowed clitic before them) and a word end (or an allowed case ending after them); CJK and kana
have no spaces, so candidates stand as found; Hangul names need a word start but take
particles freely after them.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Final, Generic, NamedTuple, TypeVar

import ahocorasick_rs
import numpy as np

from streams.coding.text import fold, is_word_char, script_of

T = TypeVar("T")

UNSPACED = frozenset({"han"})


class Match(Generic[T]):
    """A pattern found in a text: character offsets and what it stands for.

    A plain class, not a named tuple: compiled, making one and reading its fields are C
    struct operations (a named tuple's constructor runs Python code, ~100 times an article).
    """

    def __init__(self, start: int, end: int, payload: T) -> None:
        self.start: Final = start
        self.end: Final = end
        self.payload: Final = payload

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Match)
            and self.start == other.start
            and self.end == other.end
            and self.payload == other.payload
        )

    def __hash__(self) -> int:
        return hash((self.start, self.end, self.payload))

    def __repr__(self) -> str:
        return f"Match({self.start!r}, {self.end!r}, {self.payload!r})"


class _Entry(NamedTuple, Generic[T]):
    """One meaning of a key; ``star``: the phrase may continue to the end of its word."""

    payload: T
    star: bool


def _non_word_class() -> re.Pattern[str]:
    r"""Characters that are not letters, marks or digits (Python's word class lacks marks).

    But for "_", which ``\w`` holds: ``word_shape`` replaces it apart, since a class-only
    pattern scans faster than one with an alternative.
    """
    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp)).startswith("M"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    marks = "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return re.compile(f"[^\\w{marks}]")


_NON_WORD = _non_word_class()
SEP = "\x01"
_NONE: frozenset[str] = frozenset()


def _regex_shape(text: str) -> str:
    return _NON_WORD.sub(SEP, text).replace("_", SEP)


def _shape_table() -> np.ndarray[Any, np.dtype[np.uint32]]:
    """Every code point's shape: itself, or the separator where ``word_shape`` puts one.

    Read off the regex over all of Unicode once (a fraction of a second at load), so the
    table and the regex agree by construction.
    """
    every = "".join(map(chr, range(0x110000)))
    table: np.ndarray[Any, np.dtype[np.uint32]] = _code_points(_regex_shape(every)).copy()
    return table


def _code_points(text: str) -> np.ndarray[Any, np.dtype[np.uint32]]:
    # surrogatepass: a lone surrogate (JSON allows "\ud800") is a code point like any other
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


_SHAPE = _shape_table()


@lru_cache(maxsize=64)
def word_shape(text: str) -> str:
    """Every non-word character as one separator, same length: word starts become findable.

    One table lookup per code point (numpy ``take``), ten times faster than the regex
    substitution it was read from: every space and punctuation mark was one replacement.
    """
    shaped = _SHAPE.take(_code_points(text))
    return shaped.tobytes().decode("utf-32-le", "surrogatepass")


@lru_cache(maxsize=64)
def _shaped(text: str) -> str:
    """The shape the automata scan: the word shape behind one separator.

    One string object for every matcher that scans a text (folded or not), so the UTF-8
    copy the automaton reads is made once and kept with it.
    """
    return SEP + word_shape(text)


def _is_latin1(text: str) -> bool:
    """No character beyond U+00FF (a copy of a text stored one byte per character: fast)."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _variants(
    phrases: Iterable[tuple[str, T]],
    prefixes: Mapping[str, frozenset[str]] | None,
    case_sensitive: bool,
    hangul_word_start: bool,
) -> tuple[dict[str, tuple[str, list[tuple[int, _Entry[T]]]]], int]:
    """The automaton's keys with their script and meanings, and the number of phrases.

    A key is a phrase's shape, behind a separator (and behind each clitic) where it starts
    a word.
    """
    table: dict[str, list[_Entry[T]]] = {}
    for phrase, payload in phrases:
        star = phrase.endswith("*")
        key = " ".join(phrase.rstrip("*").strip().split())
        if not case_sensitive:
            key = fold(key)
        if not key:
            continue
        bucket = table.setdefault(key, [])
        entry = _Entry(payload, star)
        if entry not in bucket:
            bucket.append(entry)
    stored: dict[str, tuple[str, list[tuple[int, _Entry[T]]]]] = {}
    for key, entries in table.items():
        script = script_of(key[0])
        shape = word_shape(key)
        at_word_start = is_word_char(key[0]) and not (
            script in UNSPACED or (script == "hangul" and not hangul_word_start)
        )
        if at_word_start:
            clitics = (prefixes or {}).get(script, frozenset())
            variants = [SEP + shape] + [SEP + word_shape(c) + shape for c in clitics]
        else:
            variants = [shape]
        for variant in variants:
            _script, bucket2 = stored.setdefault(variant, (script, []))
            bucket2.extend((len(key), e) for e in entries)
    return stored, len(table)


class PhraseMatcher(Generic[T]):
    """Finds phrases in text; a phrase ending in ``*`` may continue to the end of its word.

    Keys of spaced scripts are stored behind a separator (and behind each allowed clitic), and
    the text is searched in its word shape, so the automaton itself only reports candidates
    that start at a word start; only the word end is checked in Python.
    """

    def __init__(
        self,
        phrases: Iterable[tuple[str, T]],
        prefixes: Mapping[str, frozenset[str]] | None = None,
        suffixes: Mapping[str, frozenset[str]] | None = None,
        case_sensitive: bool = False,
        hangul_word_start: bool = True,
    ) -> None:
        self._suffixes = suffixes or {}
        self._case_sensitive = case_sensitive
        stored, self._size = _variants(phrases, prefixes, case_sensitive, hangul_word_start)
        # One automaton over every key, in Rust (ahocorasick-rs): a pure scan of a 3 KB text is
        # a few dozen microseconds whatever the scripts, where pyahocorasick scanned a trie
        # node's children linearly (every CJK first character, at every character of a text).
        self._values = [(script, tuple(items)) for script, items in stored.values()]
        # Every key holds a character beyond Latin-1 (Cyrillic, Arabic, CJK …): a text whose
        # shape is Latin-1 alone cannot hold one, and is not scanned.
        self._wide = all(not _is_latin1(key) for key in stored)
        self._automaton = (
            ahocorasick_rs.AhoCorasick(
                list(stored), implementation=ahocorasick_rs.Implementation.ContiguousNFA
            )
            if stored
            else None
        )

    def __len__(self) -> int:
        return self._size

    def find(self, text: str, folded: str | None = None) -> list[Match[T]]:
        """All whole-word matches, longest first where they overlap."""
        return longest_non_overlapping(self.candidates(text, folded))

    def candidates(self, text: str, folded: str | None = None) -> list[Match[T]]:
        """Every whole-word match, overlapping ones included (``find`` keeps the longest)."""
        if not self._size:
            return []
        found: list[Match[T]] = []
        if self._automaton is None:
            return found
        if self._case_sensitive:
            haystack = text
        else:
            haystack = folded if folded is not None else fold(text)
        # In the shape, index i + 1 is the text's index i (the leading separator); a word ends
        # where the next separator is, which str.find tells without a Python loop.
        shaped = _shaped(haystack)
        if self._wide and _is_latin1(shaped):  # (dashes and curly quotes are separators)
            return found
        values = self._values
        suffixes = self._suffixes
        for idx, _start, end in self._automaton.find_matches_as_indexes(shaped, overlapping=True):
            script, items = values[idx]
            _accept(found, haystack, shaped, end - 1, script, items, suffixes)
        return found


class MultiMatcher:
    """Several phrase sets, each with its own word rules, found in one scan of a text.

    Each set's candidates are what its own ``PhraseMatcher`` (case-insensitive) would give:
    one automaton over every set's keys, each key's hit handed to the sets that hold it.
    """

    def __init__(
        self,
        sources: list[
            tuple[
                Iterable[tuple[str, Any]],
                Mapping[str, frozenset[str]] | None,
                Mapping[str, frozenset[str]] | None,
                bool,
            ]
        ],
    ) -> None:
        """``sources``: (phrases, clitic prefixes, case endings, Hangul word start) each."""
        merged: dict[str, list[tuple[int, str, tuple[tuple[int, _Entry[Any]], ...]]]] = {}
        self._suffixes: list[Mapping[str, frozenset[str]]] = []
        for i, (phrases, prefixes, suffixes, hangul_word_start) in enumerate(sources):
            stored, _size = _variants(phrases, prefixes, False, hangul_word_start)
            self._suffixes.append(suffixes or {})
            for variant, (script, items) in stored.items():
                merged.setdefault(variant, []).append((i, script, tuple(items)))
        self._values = list(merged.values())
        self._automaton = (
            ahocorasick_rs.AhoCorasick(
                list(merged), implementation=ahocorasick_rs.Implementation.ContiguousNFA
            )
            if merged
            else None
        )

    def candidates(self, text: str, folded: str | None = None) -> list[list[Match[Any]]]:
        """Every set's whole-word matches, overlapping ones included."""
        found: list[list[Match[Any]]] = [[] for _ in self._suffixes]
        if self._automaton is None:
            return found
        haystack = folded if folded is not None else fold(text)
        shaped = _shaped(haystack)
        values = self._values
        suffixes = self._suffixes
        for idx, _start, end in self._automaton.find_matches_as_indexes(shaped, overlapping=True):
            for i, script, items in values[idx]:
                _accept(found[i], haystack, shaped, end - 1, script, items, suffixes[i])
        return found


def _accept(
    found: list[Match[T]],
    haystack: str,
    shaped: str,
    end: int,
    script: str,
    items: tuple[tuple[int, _Entry[T]], ...],
    suffixes: Mapping[str, frozenset[str]],
) -> None:
    """Keep the candidates ending at ``end`` that end a word (or take an allowed ending).

    ``end`` is the shape's index of a key's last character, which is the text's exclusive
    end of it (the shape has one leading separator).
    """
    spaced = script not in UNSPACED
    at_boundary = end + 1 >= len(shaped) or shaped[end + 1] == SEP
    word_end = -1
    strict_end: bool | None = None
    for length, entry in items:
        if entry.star:
            if word_end < 0:
                word_end = _word_end(shaped, end) if spaced else end
            found.append(Match(end - length, word_end, entry.payload))
            continue
        if strict_end is None:
            strict_end = at_boundary or not spaced or script == "hangul"
            if not strict_end:
                if word_end < 0:
                    word_end = _word_end(shaped, end)
                strict_end = haystack[end:word_end] in suffixes.get(script, _NONE)
        if strict_end:
            found.append(Match(end - length, end, entry.payload))


def _word_end(shaped: str, end: int) -> int:
    """The text index where the word holding text index ``end - 1`` ends."""
    nxt = shaped.find(SEP, end + 1)
    return (len(shaped) if nxt < 0 else nxt) - 1


def longest_non_overlapping(matches: list[Match[T]]) -> list[Match[T]]:
    """Keep the longest of overlapping matches ("Korea Utara" over "Korea"), in text order.

    Matches with the very same span are all kept (one phrase, several meanings). Sorted by
    start, the matches fall into runs that overlap nothing outside them; a run of one is
    kept as it is and only real overlaps go through the longest-first choice (most matches
    overlap nothing: the choice over every match was most of the time this took).
    """
    if len(matches) < 2:
        return matches
    ordered = matches if _in_span_order(matches) else sorted(matches, key=_span)
    out: list[Match[T]] = []
    i, n = 0, len(ordered)
    while i < n:
        j = i + 1
        end = ordered[i].end
        while j < n and ordered[j].start < end:
            end = max(end, ordered[j].end)
            j += 1
        if j == i + 1:
            out.append(ordered[i])
        else:
            out.extend(_longest_first(ordered[i:j]))
        i = j
    return out


def _span(m: Match[T]) -> tuple[int, int]:
    return (m.start, m.end)


def _in_span_order(matches: list[Match[T]]) -> bool:
    """Already sorted by (start, end), as an automaton gives matches that do not overlap."""
    start, end = -1, -1
    for m in matches:
        if m.start < start or (m.start == start and m.end < end):
            return False
        start, end = m.start, m.end
    return True


def _longest_first(matches: list[Match[T]]) -> list[Match[T]]:
    """The longest-first choice among overlapping matches, in text order.

    Taken spans never overlap, so checking the two neighbours of a new span is enough.
    """
    ordered = sorted(matches, key=lambda m: (m.start - m.end, m.start))
    starts: list[int] = []
    spans: list[tuple[int, int]] = []
    kept: dict[tuple[int, int], list[Match[T]]] = {}
    for m in ordered:
        span = (m.start, m.end)
        if span in kept:
            if m not in kept[span]:
                kept[span].append(m)
            continue
        i = bisect_right(starts, m.start)
        if i > 0 and spans[i - 1][1] > m.start:
            continue
        if i < len(spans) and spans[i][0] < m.end:
            continue
        starts.insert(i, m.start)
        spans.insert(i, span)
        kept[span] = [m]
    return [m for span in spans for m in kept[span]]
