"""Text handling the coder needs before matching: language, boilerplate, sentences, folding."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, NamedTuple

# Scripts written without spaces between words: names and triggers match anywhere in them.
_NO_SPACE_RANGES = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
)
_HANGUL_RANGES = ((0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F))


#: One character of a script without word spaces: counts them in one C scan.
UNSPACED_CHAR = re.compile(
    "[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _NO_SPACE_RANGES) + "]"
)


def is_unspaced(ch: str) -> bool:
    """True for characters of scripts without word spaces (CJK, kana, Thai …)."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _NO_SPACE_RANGES)


def is_hangul(ch: str) -> bool:
    """True for Hangul: words are spaced, but particles attach to the end of names."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _HANGUL_RANGES)


@lru_cache(maxsize=8192)
def is_word_char(ch: str) -> bool:
    """Letters, marks and digits make words; everything else is a boundary."""
    return unicodedata.category(ch)[0] in ("L", "M", "N")


@lru_cache(maxsize=8192)
def script_of(ch: str) -> str:
    """A coarse script name, used to group inflection rules across languages."""
    if is_hangul(ch):
        return "hangul"
    if is_unspaced(ch):
        return "han"
    cp = ord(ch)
    if 0x0400 <= cp <= 0x052F:
        return "cyrillic"
    if 0x0600 <= cp <= 0x06FF or 0x0750 <= cp <= 0x077F or 0xFB50 <= cp <= 0xFEFF:
        return "arabic"
    if 0x0900 <= cp <= 0x097F:
        return "devanagari"
    if 0x0370 <= cp <= 0x03FF:
        return "greek"
    if 0x0590 <= cp <= 0x05FF:
        return "hebrew"
    return "latin"


def fold(text: str) -> str:
    """Lower-case without changing the length, so offsets in folded text fit the original."""
    return fold_lines(text)[0]


def fold_lines(text: str) -> tuple[str, bool]:
    """``fold(text)``, and whether each line's fold is the matching slice of it.

    It is when lower-casing kept every length (no İ): the one context rule of lower-casing
    (Greek final sigma) stops at a line break as at the end of a text. Otherwise each
    character is lower-cased alone, those that would grow kept as they are.
    """
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered, True
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text), False


@lru_cache(maxsize=1)
def _langid() -> Any:
    import py3langid

    return py3langid


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language, offline (py3langid ships its model)."""
    sample = text[:2000]
    if not sample.strip():
        return "und"
    lang, _score = _langid().classify(sample)
    return str(lang)


class Sentence(NamedTuple):
    """A sentence with its position in the article (0 = title); a tuple: cheap to make."""

    text: str
    position: int
    is_title: bool = False


# "U.S." and "Mr." end no sentence: a piece whose last word before its "." is one capital
# letter or one of these titles.
_TITLES = frozenset("Mr Mrs Ms Dr St Gen Lt Col Sen Rep Gov Prof No Jr Sr".split())
_LONGEST_TITLE = max(map(len, _TITLES))
_TITLE_ENDS = frozenset(t[-2:] for t in _TITLES)


def _ends_in_abbreviation(piece: str) -> bool:
    """True when the piece ends in "X." or "Mr." (a whole word: " U.S.", not "BUS.")."""
    if not piece.endswith("."):
        return False
    before = piece[-2:-1]
    if not ("A" <= before <= "Z" or piece[-3:-1] in _TITLE_ENDS):
        return False  # (most sentences: a lower-case word ending in no title's letters)
    end = len(piece) - 1
    start = end
    while start > 0 and end - start <= _LONGEST_TITLE:
        ch = piece[start - 1]
        if not (ch.isalnum() or ch == "_"):  # a regex word character
            break
        start -= 1
    word = piece[start:end]
    return ("A" <= word <= "Z" and len(word) == 1) or word in _TITLES


# Where a sentence can end, and what follows an end mark: closing quotes (kept with the
# sentence) and a space (dropped).
_END_MARKS = ".!?。！？؟।\n"
_UNSPACED_ENDS = frozenset("。！？")  # these end a sentence with no space after them too
_CLOSE_SPACE = re.compile(r"([\"'”’»)\]]*)\s+")


def _pieces(text: str) -> list[str]:
    """Pieces between sentence ends, cut at the end marks ``str.find`` finds, in order.

    An end is . ! ? (and their CJK/Arabic/Devanagari forms) with closing quotes and a space,
    or right after 。！？ when more text follows, or a run of line breaks. (A regex scan for
    the marks tested its character class at every character; a search for a mark a text
    cannot hold, 。 in Latin-1 text, costs nothing.)
    """
    marks: list[int] = []
    for mark in _END_MARKS:
        i = text.find(mark)
        while i >= 0:
            marks.append(i)
            i = text.find(mark, i + 1)
    marks.sort()
    out: list[str] = []
    last = 0  # start of the current piece
    skip = 0  # end of the last separator: marks inside it were consumed
    n = len(text)
    for i in marks:
        if i < skip:
            continue
        if text[i] == "\n":  # line breaks end the piece before them
            j = i + 1
            while j < n and text[j] == "\n":
                j += 1
            out.append(text[last:i])
            last = skip = j
            continue
        after = _CLOSE_SPACE.match(text, i + 1)
        if after is not None:  # the end mark and closing quotes stay with their sentence
            out.append(text[last : after.end(1)])
            last = skip = after.end()
        elif text[i] in _UNSPACED_ENDS and i + 1 < n:
            out.append(text[last : i + 1])
            last = skip = i + 1
    out.append(text[last:])
    return out


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences without breaking on U.S. or Mr."""
    pieces = [p for p in _pieces(text) if p and p.strip()]
    out: list[str] = []
    for piece in pieces:
        if out and _ends_in_abbreviation(out[-1]):
            out[-1] = f"{out[-1]} {piece.strip()}"
        else:
            out.append(piece.strip())
    return out


def remove_boilerplate(text: str, patterns: Iterable[re.Pattern[str]]) -> str:
    """Drop whole lines that are related-link lists, bylines, copyright or share prompts."""
    kept = text.splitlines()
    for pattern in patterns:  # a list comprehension per pattern: no generator per line
        search = pattern.search
        kept = [line for line in kept if not search(line)]
    return "\n".join(kept)


def sentences(title: str | None, text: str, patterns: Iterable[re.Pattern[str]]) -> list[Sentence]:
    """Title first (it carries the story), then the body's sentences, boilerplate removed."""
    pats = tuple(patterns)
    out: list[Sentence] = []
    if title and title.strip():
        clean_title = remove_boilerplate(title, pats).strip()
        if clean_title:
            out.append(Sentence(clean_title, 0, is_title=True))
    for i, s in enumerate(split_sentences(remove_boilerplate(text, pats)), start=1):
        out.append(Sentence(s, i))
    return out
