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
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

import ahocorasick

from streams.coding.text import fold, is_word_char, script_of

T = TypeVar("T")

UNSPACED = frozenset({"han"})


@dataclass(frozen=True)
class Match(Generic[T]):
    """A pattern found in a text: character offsets and what it stands for."""

    start: int
    end: int
    payload: T


@dataclass(frozen=True)
class _Entry(Generic[T]):
    payload: T
    star: bool


def _non_word_class() -> re.Pattern[str]:
    """Characters that are not letters, marks or digits (Python's word class lacks marks)."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp)).startswith("M"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    marks = "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return re.compile(f"[^\\w{marks}]|_")


_NON_WORD = _non_word_class()
SEP = "\x01"


@lru_cache(maxsize=64)
def word_shape(text: str) -> str:
    """Every non-word character as one separator, same length: word starts become findable."""
    return _NON_WORD.sub(SEP, text)


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
        self._size = len(table)
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
        self._automaton = ahocorasick.Automaton()
        for variant, (script, items) in stored.items():
            self._automaton.add_word(variant, (script, tuple(items)))
        if stored:
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return self._size

    def find(self, text: str, folded: str | None = None) -> list[Match[T]]:
        """All whole-word matches, longest first where they overlap."""
        if not self._size:
            return []
        haystack = text if self._case_sensitive else (folded if folded is not None else fold(text))
        shaped = SEP + word_shape(haystack)
        found: list[Match[T]] = []
        for end_idx, (script, items) in self._automaton.iter(shaped):
            end = end_idx  # the leading separator shifts every offset by one
            strict_end: bool | None = None
            for length, entry in items:
                if entry.star:
                    found.append(
                        Match(end - length, self._word_end(haystack, end, script), entry.payload)
                    )
                    continue
                if strict_end is None:
                    strict_end = self._right_ok(haystack, end, script)
                if strict_end:
                    found.append(Match(end - length, end, entry.payload))
        return _longest_non_overlapping(found)

    def _right_ok(self, text: str, end: int, script: str) -> bool:
        if script in UNSPACED or script == "hangul":
            return True
        if end >= len(text) or not is_word_char(text[end]):
            return True
        return text[end : self._word_end(text, end, script)] in self._suffixes.get(
            script, frozenset()
        )

    @staticmethod
    def _word_end(text: str, end: int, script: str) -> int:
        if script in UNSPACED:
            return end
        j = end
        while j < len(text) and is_word_char(text[j]):
            j += 1
        return j


def _longest_non_overlapping(matches: list[Match[T]]) -> list[Match[T]]:
    """Keep the longest of overlapping matches ("Korea Utara" over "Korea"), in text order.

    Matches with the very same span are all kept (one phrase, several meanings). Taken spans
    never overlap, so checking the two neighbours of a new span is enough: O(n log n).
    """
    if len(matches) < 2:
        return matches
    ordered = sorted(matches, key=lambda m: (-(m.end - m.start), m.start))
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
