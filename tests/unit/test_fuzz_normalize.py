"""Property-based fuzzing of the pure steps: normalize never raises, the coder never raises.

Whatever bytes a producer sends, ``normalize`` answers with a CleanArticle or a Rejection whose
reason is one of the bounded ``Reason`` codes; whatever text a CleanArticle holds, ``Coder.code``
returns a list of valid CodedEvents. Example counts are moderate so ``make test`` stays fast.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.coding.coder import Coder
from streams.normalize import Reason, Rejection, normalize
from streams.records import CleanArticle, CodedEvent

LIMIT = 2_000_000
REASONS = set(Reason)
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(max_examples=40, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture])

ARTICLE_FIELDS = ["text", "body", "id", "title", "url", "source", "lang", "published_at",
                  "fetched_at", "ingested_at"]

# Characters that have broken text pipelines before: controls, bidi overrides and isolates,
# zero-width joiners, BOMs, surrogate-adjacent planes, combining marks, line separators.
NASTY = ["\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068",
         "\u2069", "\u200e", "\u200f", "\u200b", "\u200c", "\u200d", "\ufeff", "\u2028",
         "\u2029", "\u0085", "\x00", "\x01", "\x07", "\x1b", "\x7f", "\t", "\r", "\n",
         "\u0301", "\u0338", "\ufffd", "\U0001f600", "\U0010ffff", "\u00a0", "\u3000"]
SCRIPTS = ["North Korea visited Iran.", "Северная Корея посетила Иран.",
           "كوريا الشمالية زارت إيران.", "朝鲜访问了伊朗。", "북한이 이란을 방문했다.",
           "उत्तर कोरिया ने ईरान का दौरा किया।", "Corea del Norte visitó Irán.",
           "کره شمالی از ایران بازدید کرد.", "北朝鮮がイランを訪問した。", "צפון קוריאה ביקרה באיראן."]

nasty_text = st.lists(
    st.one_of(st.sampled_from(NASTY), st.sampled_from(SCRIPTS), st.text(max_size=20)),
    max_size=30,
).map("".join)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                         st.text(max_size=30), nasty_text)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)


def check(raw: bytes | None, limit: int = LIMIT) -> CleanArticle | Rejection:
    """normalize must answer, never raise; a rejection carries a bounded reason and a detail."""
    result = normalize(raw, limit)
    if isinstance(result, Rejection):
        assert result.reason in REASONS
        assert isinstance(result.detail, str) and result.detail
    else:
        assert isinstance(result, CleanArticle)
        assert result.text and result.text == result.text.strip()
        assert result.id and result.lang and result.story_id
        # the clean article must survive the trip over the next topic
        assert CleanArticle.model_validate_json(result.model_dump_json()) == result
    return result


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(st.binary(min_size=1, max_size=200), st.integers(0, 3))
def test_broken_utf8_inside_valid_text(junk: bytes, where: int) -> None:
    good = "Nordkorea besuchte Iran — Pjöngjang grüßt. ".encode()
    raw = [junk + good, good + junk, good[:5] + junk + good[5:], b"\xff" + junk][where]
    check(raw)


@FUZZ
@given(nasty_text)
def test_controls_bidi_and_mixed_scripts_as_plain_text(text: str) -> None:
    check(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(nasty_text, nasty_text)
def test_controls_bidi_and_mixed_scripts_in_json(title: str, text: str) -> None:
    raw = json.dumps({"title": title, "text": text}, ensure_ascii=False).encode("utf-8",
                                                                                 "surrogatepass")
    result = check(raw)
    if isinstance(result, CleanArticle):
        # cleaning left no C0 control (other than tab/newline) for the coder to trip on
        assert not any(ch < " " and ch not in "\t\n\r" for ch in result.text)


@FUZZ
@given(st.sampled_from(ARTICLE_FIELDS), json_values,
       st.dictionaries(st.sampled_from(ARTICLE_FIELDS), json_values, max_size=4))
def test_wrong_types_for_every_field(field: str, value: Any, others: dict[str, Any]) -> None:
    obj = {"text": "North Korea visited Iran.", **others, field: value}
    check(json.dumps(obj, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass"))


@FUZZ
@given(json_values)
def test_any_json_document(value: Any) -> None:
    check(json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.text(alphabet=" \t\r\n\u00a0\u2028\u3000\ufeff\u200b\x0b\x0c", max_size=50))
def test_empty_and_whitespace(ws: str) -> None:
    for raw in (ws.encode(), json.dumps({"text": ws}).encode(), json.dumps({"body": ws}).encode()):
        result = check(raw)
        if not ws.strip():
            assert isinstance(result, Rejection)


@pytest.mark.parametrize("depth", [10, 500, 5_000, 100_000])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    raw = (opener * depth + "1" + closer * depth).encode()
    assert isinstance(check(raw), Rejection)
    wrapped = ('{"text": "North Korea visited Iran.", "extra": ' + raw.decode() + "}").encode()
    check(wrapped)


def test_huge_json_and_ten_megabyte_bodies() -> None:
    ten_mb = 10 * 1024 * 1024
    body = ("North Korea visited Iran. " * (ten_mb // 26 + 1))[:ten_mb]
    for raw in (body.encode(), json.dumps({"text": body}).encode(), b"\xff" * ten_mb,
                b"[" * ten_mb, json.dumps(list(range(1_000_000))).encode()):
        result = check(raw)
        assert isinstance(result, Rejection) and result.reason == Reason.TOO_LARGE
    # with a limit that lets 10 MB through, the article is still handled, not raised on
    big = check(json.dumps({"text": body, "title": "T" * 100_000}).encode(), limit=11 * ten_mb)
    assert isinstance(big, CleanArticle)
    many_keys = json.dumps({f"k{i}": i for i in range(200_000)} | {"text": "x y"}).encode()
    check(many_keys, limit=11 * ten_mb)


# ---------------------------------------------------------------------------------- the coder


def _assert_codes(coder: Coder, article: CleanArticle) -> None:
    events = coder.code(article)
    assert isinstance(events, list)
    for ev in events:
        assert isinstance(ev, CodedEvent)
        CodedEvent.model_validate_json(ev.model_dump_json())


@FEW
@given(nasty_text, st.one_of(st.none(), nasty_text), st.sampled_from(
    ["en", "de", "fr", "es", "pt", "ru", "ar", "fa", "zh", "ja", "ko", "hi", "id", "tr", "xx", ""]))
def test_coder_never_raises_on_any_text(coder: Coder, text: str, title: str | None,
                                        lang: str) -> None:
    if not text.strip():
        text = "\u202e"
    article = CleanArticle(id="fz", lang=lang, story_id="s", text=text, title=title)
    _assert_codes(coder, article)


@FEW
@given(st.binary(min_size=1, max_size=3000))
def test_coder_never_raises_on_what_normalize_accepts(coder: Coder, raw: bytes) -> None:
    result = normalize(raw, LIMIT)
    if isinstance(result, CleanArticle):
        _assert_codes(coder, result)


@FEW
@given(st.lists(st.sampled_from(SCRIPTS + NASTY), min_size=1, max_size=60))
def test_coder_on_mixed_script_articles_through_normalize(coder: Coder, parts: list[str]) -> None:
    result = normalize("".join(parts).encode(), LIMIT)
    if isinstance(result, CleanArticle):
        _assert_codes(coder, result)


def test_coder_on_a_large_article(coder: Coder) -> None:
    text = " ".join(SCRIPTS) * 400  # ~150 KB across ten scripts
    result = normalize(json.dumps({"text": text + "\u202e" * 1000}).encode(), LIMIT)
    assert isinstance(result, CleanArticle)
    _assert_codes(coder, result)
