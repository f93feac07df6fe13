"""Fuzzing through the agents (Faust test_context, no broker): nothing raises, counts balance.

Every message put into the normalize agent is either forwarded to geomon.articles.clean or
dead-lettered to geomon.articles.dlq with a bounded reason, and in = forwarded + DLQ. The same
holds for the code agent: every clean article is coded or dead-lettered.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.watchlist import parse_watchlist
from streams import topics as T
from streams.app import Pipeline, create_pipeline
from streams.coding.coder import Coder
from streams.normalize import Reason
from streams.records import CleanArticle
from streams.settings import Settings
from tests.fakes import fake_send, sent
from tests.unit.test_fuzz_normalize import ARTICLE_FIELDS, NASTY, SCRIPTS, json_values, nasty_text

WATCH = parse_watchlist({"pairs": [{"pair": "IRN-PRK", "severity": "high"}]})
FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
LIMIT = 64 * 1024  # small, so too_large is reachable by the fuzzer

message = st.one_of(
    st.binary(max_size=512),
    nasty_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(st.sampled_from(SCRIPTS + NASTY), max_size=20).map(lambda p: "".join(p).encode()),
    st.builds(
        lambda field, value: json.dumps({"text": "North Korea visited Iran.", field: value},
                                        allow_nan=True).encode(),
        st.sampled_from(ARTICLE_FIELDS), json_values),
    json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.sampled_from([b"", b" ", b"\xef\xbb\xbf", b"\xff\xfe", b"{", b"[" * 5000,
                     b"x" * (LIMIT + 1), ("[" * 100_000).encode()]),
)


def make_pipe(tmp: Path, coder: Coder) -> Pipeline:
    p = create_pipeline(Settings(data_dir=tmp / "data", max_article_bytes=LIMIT),
                        coder=lambda: coder, watchlist=WATCH)
    for topic in [*p.topics.values(), *p.pair_topics.values()]:
        topic.send = fake_send()
    return p


async def run_agent(agent: Any, values: list[bytes]) -> list[Any]:
    """Put every value through the agent; return its result for each, in order."""
    async with agent.test_context() as ctx:
        offsets = [(await ctx.put(v, key=b"k")).message.offset for v in values]
        return [ctx.results[o] for o in offsets]


@FUZZ
@given(st.lists(message, min_size=1, max_size=12))
def test_normalize_agent_forwards_or_dead_letters_every_message(
    tmp_path: Path, coder: Coder, values: list[bytes]
) -> None:
    pipe = make_pipe(tmp_path, coder)
    results = asyncio.run(run_agent(pipe.agents["normalize"], values))
    clean = sent(pipe.topics[T.ARTICLES_CLEAN])
    dlq = sent(pipe.topics[T.ARTICLES_DLQ])
    assert len(results) == len(values)
    assert len(values) == len(clean) + len(dlq), "in != processed + DLQ"
    assert sum(r.startswith("ok:") for r in results) == len(clean)
    assert sum(r.startswith("dlq:") for r in results) == len(dlq)
    reasons = {r.value for r in Reason}
    dead = [v for v, r in zip(values, results, strict=True) if r.startswith("dlq:")]
    for (key, value, headers), original in zip(dlq, dead, strict=True):
        assert key == b"k"
        assert value == original, "the DLQ keeps the original bytes"
        assert headers["geomon-reason"].decode() in reasons
        assert headers["geomon-detail"]
        assert headers["geomon-origin"].startswith(pipe.topics[T.ARTICLES].get_topic_name().encode())
    for _, value, _ in clean:
        CleanArticle.model_validate_json(value)
    # the metrics count the same split
    ok_total = sum(s.value for m in pipe.metrics.registry.collect()
                   if m.name == "geomon_articles" for s in m.samples
                   if s.name.endswith("_total") and s.labels.get("status") == "ok")
    assert ok_total == len(clean)


@FUZZ
@given(st.lists(st.tuples(nasty_text, st.one_of(st.none(), nasty_text)), min_size=1, max_size=6),
       st.lists(st.binary(max_size=200), max_size=3))
def test_code_agent_codes_or_dead_letters_every_article(
    tmp_path: Path, coder: Coder, texts: list[tuple[str, str | None]], junk: list[bytes]
) -> None:
    pipe = make_pipe(tmp_path, coder)
    values = [CleanArticle(id=f"a{i}", lang="en", story_id="s", text=text or "\u202e",
                           title=title).model_dump_json().encode()
              for i, (text, title) in enumerate(texts)]
    values += junk  # what is not a CleanArticle on the clean topic goes to the DLQ as schema
    results = asyncio.run(run_agent(pipe.agents["code"], values))
    dlq = sent(pipe.topics[T.ARTICLES_DLQ])
    assert len(results) == len(values)
    coded = [r for r in results if r >= 0]
    assert len(values) == len(coded) + len(dlq), "in != processed + DLQ"
    assert all(r >= 0 for r in results[: len(texts)]), "the coder failed on a clean article"
    assert len(sent(pipe.topics[T.EVENTS])) == sum(coded)
