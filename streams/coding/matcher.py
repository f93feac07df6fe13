"""Multi-pattern matching with word-boundary and inflection rules (Aho-Corasick underneath).

One automaton finds every candidate in linear time; the boundary rules then decide, per script,
whether a candidate is a whole word: Latin/Cyrillic/Arabic names need a word start (or an
allowed clitic before them) and a word end (or an allowed case ending after them); CJK and kana
have no spaces, so candidates stand as found; Hangul names need a word start but take
particles freely after them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


class PhraseMatcher(Generic[T]):
    """Finds phrases in text; a phrase ending in ``*`` may continue to the end of its word."""

    def __init__(
        self,
        phrases: Iterable[tuple[str, T]],
        prefixes: Mapping[str, frozenset[str]] | None = None,
        suffixes: Mapping[str, frozenset[str]] | None = None,
        case_sensitive: bool = False,
        hangul_word_start: bool = True,
    ) -> None:
        self._prefixes = prefixes or {}
        self._suffixes = suffixes or {}
        self._case_sensitive = case_sensitive
        self._hangul_word_start = hangul_word_start
        table: dict[str, list[_Entry[T]]] = {}
        for phrase, payload in phrases:
            star = phrase.endswith("*")
            key = phrase.rstrip("*").strip()
            key = " ".join(key.split())
            if not case_sensitive:
                key = fold(key)
            if not key:
                continue
            bucket = table.setdefault(key, [])
            entry = _Entry(payload, star)
            if entry not in bucket:
                bucket.append(entry)
        self._size = len(table)
        self._automaton = ahocorasick.Automaton()
        for key, entries in table.items():
            self._automaton.add_word(key, (len(key), script_of(key[0]), tuple(entries)))
        if table:
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return self._size

    def find(self, text: str, folded: str | None = None) -> list[Match[T]]:
        """All whole-word matches, longest first where they overlap."""
        if not self._size:
            return []
        haystack = text if self._case_sensitive else (folded if folded is not None else fold(text))
        found: list[Match[T]] = []
        for end_idx, (length, script, entries) in self._automaton.iter(haystack):
            end = end_idx + 1
            start = end - length
            if not self._left_ok(haystack, start, script):
                continue
            strict_end = self._right_ok(haystack, end, script)
            for entry in entries:
                if entry.star or strict_end:
                    stop = self._word_end(haystack, end, script) if entry.star else end
                    found.append(Match(start, stop, entry.payload))
        return _longest_non_overlapping(found)

    def _left_ok(self, text: str, start: int, script: str) -> bool:
        if script in UNSPACED or start == 0 or not is_word_char(text[start - 1]):
            return True
        if script == "hangul" and not self._hangul_word_start:
            return True
        i = start
        while i > 0 and is_word_char(text[i - 1]):
            i -= 1
        return text[i:start] in self._prefixes.get(script, frozenset())

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
    """Keep the longest of overlapping matches ("Korea Utara" over "Korea"), in text order."""
    if len(matches) < 2:
        return matches
    ordered = sorted(matches, key=lambda m: (-(m.end - m.start), m.start))
    taken: list[Match[T]] = []
    for m in ordered:
        same_span = [t for t in taken if t.start == m.start and t.end == m.end]
        overlaps = any(m.start < t.end and t.start < m.end for t in taken)
        if (not overlaps or same_span) and m not in same_span:
            taken.append(m)
    taken.sort(key=lambda m: (m.start, m.end))
    return taken
