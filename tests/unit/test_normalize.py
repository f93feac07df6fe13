import json

import pytest

from streams.normalize import Reason, Rejection, normalize, story_key
from streams.records import CleanArticle

LIMIT = 100_000


def ok(raw: bytes) -> CleanArticle:
    result = normalize(raw, LIMIT)
    assert isinstance(result, CleanArticle), result
    return result


def rejected(raw: bytes | None, limit: int = LIMIT) -> Reason:
    result = normalize(raw, limit)
    assert isinstance(result, Rejection), result
    return result.reason


def test_json_article_keeps_fields_and_gets_lang():
    art = ok(json.dumps({"id": "a1", "title": "T", "text": "North Korea's delegation visited "
                         "Iran on Tuesday for talks.", "url": "https://x.test/1"}).encode())
    assert art.id == "a1"
    assert art.title == "T"
    assert art.lang == "en"
    assert art.url == "https://x.test/1"


def test_body_alias_and_id_from_url_is_stable():
    raw = json.dumps({"body": "Texto de la noticia.", "url": "https://x.test/2"}).encode()
    first, second = ok(raw), ok(raw)
    assert first.text == "Texto de la noticia."
    assert first.id == second.id
    assert first.id != ok(json.dumps({"body": "Texto", "url": "https://x.test/3"}).encode()).id


def test_plain_text_is_an_article():
    art = ok(b"Delegasi Korea Utara mengunjungi Iran.")
    assert art.text.startswith("Delegasi")
    assert art.id


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, Reason.EMPTY),
        (b"   \n", Reason.EMPTY),
        (b"\xff\xfe\xfa broken", Reason.NOT_UTF8),
        (b"abc\x00def", Reason.BINARY),
        (b'{"text": "unterminated', Reason.INVALID_JSON),
        (b"[1, 2, 3]", Reason.NOT_AN_OBJECT),
        (b'{"title": "no text"}', Reason.SCHEMA),
        (b'{"text": 42}', Reason.SCHEMA),
        (b'{"text": "ok", "published_at": "yesterday"}', Reason.SCHEMA),
        (b'{"text": "   "}', Reason.EMPTY_TEXT),
        (b"[" * 100_00 + b"]" * 100_00, Reason.INVALID_JSON),
    ],
)
def test_bad_input_gets_a_reason(raw, reason):
    assert rejected(raw) == reason


def test_size_limit():
    assert rejected(b"x" * 2000, limit=1024) == Reason.TOO_LARGE


def test_control_characters_are_cleaned_not_fatal():
    art = ok(json.dumps({"text": "Iran\x07 and\u200f Russia signed a deal."}).encode())
    assert "\x07" not in art.text


def test_story_key_ignores_case_and_punctuation():
    assert story_key("North Korea visits Iran!", "a") == story_key("north korea visits iran", "b")
    assert story_key(None, "same lead " * 10) == story_key("", "same lead " * 10)
    assert story_key("One story", "x") != story_key("Another story", "x")


def test_times_without_a_zone_are_utc():
    art = ok(b'{"text": "x y z", "published_at": "2026-01-02T03:04:05"}')
    assert art.published_at is not None
    assert art.published_at.utcoffset().total_seconds() == 0
