"""Turn a raw message into a clean article, or say exactly why not (pure, no Faust).

Anything a producer can send is handled here: JSON objects, plain UTF-8 text, and every kind of
garbage. Garbage becomes a ``Rejection`` whose ``reason`` is a short machine-readable code; the
agent routes it to the DLQ with the original bytes, so nothing stops the worker.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from pydantic import ValidationError

from alerts.stories import text_signature
from streams.coding.text import detect_language
from streams.records import Article, CleanArticle, stable_id


class Reason(StrEnum):
    """Why a message went to the DLQ: a bounded set, so it can label metrics."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    BINARY = "binary"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    SCHEMA = "schema"
    EMPTY_TEXT = "empty_text"


@dataclass(frozen=True)
class Rejection:
    """A message that cannot be an article, and why."""

    reason: Reason
    detail: str


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NON_WORD = re.compile(r"\W+", re.UNICODE)
#: Unicode category Cc (U+0000-U+001F, U+007F-U+009F) other than tab, newline and return.
_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _clean(text: str) -> str:
    """NFC, control characters out: the coder then sees one canonical form of each name."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text)).strip()


def story_key(title: str | None, text: str) -> str:
    """A cluster id shared by copies of one story: its normalized title, else its lead."""
    basis = title if title and title.strip() else text[:300]
    folded = _NON_WORD.sub(" ", basis.casefold()).strip()
    return stable_id("story", folded)


def _looks_binary(raw: bytes, text: str) -> bool:
    if b"\x00" in raw:
        return True
    sample = text[:4096]
    controls = len(_BINARY_CONTROL.findall(sample))  # one C scan, not a Python call per char
    return controls > max(8, len(sample) // 20)


def normalize(raw: bytes | None, max_bytes: int) -> CleanArticle | Rejection:
    """Decode, validate and clean one message from the articles topic."""
    if raw is None or not raw.strip():
        return Rejection(Reason.EMPTY, "message has no content")
    if len(raw) > max_bytes:
        return Rejection(Reason.TOO_LARGE, f"{len(raw)} bytes > limit {max_bytes}")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(Reason.NOT_UTF8, f"invalid UTF-8 at byte {exc.start}")
    if _looks_binary(raw, decoded):
        return Rejection(Reason.BINARY, "binary content (NUL or control bytes)")
    stripped = decoded.lstrip("\ufeff \t\r\n")
    if not stripped:  # only BOMs and whitespace (bytes.strip() does not know U+FEFF)
        return Rejection(Reason.EMPTY_TEXT, "message holds only a BOM and whitespace")
    if stripped[:1] in ("{", "["):
        try:
            obj = json.loads(stripped)
        except (ValueError, RecursionError) as exc:
            return Rejection(Reason.INVALID_JSON, str(exc)[:200])
        if not isinstance(obj, dict):
            return Rejection(Reason.NOT_AN_OBJECT, f"JSON {type(obj).__name__}, not an object")
        try:
            article = Article.model_validate_json(stripped)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "article"
            return Rejection(Reason.SCHEMA, f"{where}: {first['msg']}"[:200])
    else:
        article = Article(text=stripped)
    text = _clean(article.text)
    if not text:
        return Rejection(Reason.EMPTY_TEXT, "text is empty after cleaning")
    title = _clean(article.title) if article.title else None
    lang = article.lang or detect_language(f"{title or ''}\n{text}")
    return CleanArticle(
        **article.model_dump(exclude={"text", "title", "id", "lang"}),
        text=text,
        title=title,
        id=article.article_id(),
        lang=lang,
        story_id=story_key(title, text),
        signature=text_signature(text),
    )
