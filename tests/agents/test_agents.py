"""Agent wiring tested with Faust's test_context(): no broker, sends captured."""

from __future__ import annotations

import asyncio
import json
from unittest.mock import AsyncMock

import pytest

from alerts.watchlist import parse_watchlist
from streams import topics as T
from streams.app import Pipeline, create_pipeline
from streams.records import Alert, CleanArticle, CodedEvent
from tests.fakes import fake_send, sent

WATCH = parse_watchlist({"pairs": [{"pair": "IRN-PRK", "severity": "high"}]})


@pytest.fixture
def pipe(settings, coder) -> Pipeline:
    p = create_pipeline(settings, coder=lambda: coder, watchlist=WATCH)
    for topic in [*p.topics.values(), *p.pair_topics.values()]:
        topic.send = fake_send()
    return p


async def test_normalize_routes_good_and_bad_messages(pipe):
    good = json.dumps({"id": "g1", "text": "Delegasi Korea Utara mengunjungi Iran."}).encode()
    async with pipe.agents["normalize"].test_context() as agent:
        e1 = await agent.put(b"\xff\xfe not utf-8")
        e2 = await agent.put(good)
        e3 = await agent.put(b'{"text": 12}')
        assert agent.results[e1.message.offset] == "dlq:not_utf8"
        assert agent.results[e2.message.offset] == "ok:g1"
        assert agent.results[e3.message.offset] == "dlq:schema"
    dlq = sent(pipe.topics[T.ARTICLES_DLQ])
    assert [v for _, v, _ in dlq] == [b"\xff\xfe not utf-8", b'{"text": 12}']
    assert dlq[0][2]["geomon-reason"] == b"not_utf8"
    assert b"text" in dlq[1][2]["geomon-detail"]
    (clean,) = sent(pipe.topics[T.ARTICLES_CLEAN])
    article = CleanArticle.model_validate_json(clean[1])
    assert article.id == "g1"
    assert article.lang == "id"


async def test_code_agent_keys_events_by_pair(pipe):
    article = CleanArticle(id="a1", lang="en", story_id="s1",
                           text="North Korea's economic delegation visited Iran on Tuesday.")
    async with pipe.agents["code"].test_context() as agent:
        ev = await agent.put(article.model_dump_json().encode())
        assert agent.results[ev.message.offset] >= 1
    events = sent(pipe.topics[T.EVENTS])
    assert events
    keys = {k for k, _, _ in events}
    assert b"IRN-PRK" in keys
    coded = [CodedEvent.model_validate_json(v) for _, v, _ in events]
    assert all(e.pair.encode() == k for e, (k, _, _) in zip(coded, events, strict=True))


async def test_alert_agent_alerts_once_per_story_for_watched_pairs(pipe, coder):
    article = CleanArticle(id="a1", lang="en", story_id="s1", source="Example Times",
                           text="North Korea's economic delegation visited Iran on Tuesday.")
    (event,) = [e for e in coder.code(article) if e.pair == "IRN-PRK"]
    other = event.model_copy(update={"pair": "IRN-RUS", "event_id": "other"})
    async with pipe.agents["alert"].test_context() as agent:
        first = await agent.put(event.model_dump_json().encode())
        repeat = await agent.put(event.model_dump_json().encode())
        unwatched = await agent.put(other.model_dump_json().encode())
        junk = await agent.put(b"{}")
        alert_id, version = agent.results[first.message.offset].split(":")
        assert version == "1"
        assert alert_id
        assert agent.results[repeat.message.offset] is None
        assert agent.results[unwatched.message.offset] is None
        assert agent.results[junk.message.offset] is None
    (main,) = sent(pipe.topics[T.ALERTS])
    (per_pair,) = sent(pipe.pair_topics["IRN-PRK"])
    assert main == per_pair
    alert = Alert.model_validate_json(main[1])
    assert alert.alert_id == alert_id
    assert alert.pair == "IRN-PRK"
    assert alert.sources == ["Example Times"]


async def test_a_coder_failure_dead_letters_the_article_and_the_agent_goes_on(settings, coder):
    class Flaky:
        def code(self, article):
            if article.id == "boom":
                raise RuntimeError("coder bug")
            return coder.code(article)

    p = create_pipeline(settings, coder=lambda: Flaky(), watchlist=WATCH)
    for topic in p.topics.values():
        topic.send = fake_send()
    bad = CleanArticle(id="boom", lang="en", story_id="s", text="North Korea visited Iran.")
    good = CleanArticle(id="fine", lang="en", story_id="s2", text="North Korea visited Iran.")
    async with p.agents["code"].test_context() as agent:
        e1 = await agent.put(bad.model_dump_json().encode())
        e2 = await agent.put(good.model_dump_json().encode())
        assert agent.results[e1.message.offset] == -1
        assert agent.results[e2.message.offset] >= 1
    (dead,) = sent(p.topics[T.ARTICLES_DLQ])
    assert dead[2]["geomon-reason"] == b"coder_error"
    assert b"coder bug" in dead[2]["geomon-detail"]


def held_sends(p: Pipeline) -> list[asyncio.Future[None]]:
    """Make every send of *p* return a future the test acknowledges (or fails) itself."""
    pending: list[asyncio.Future[None]] = []

    async def send(**kwargs: object) -> asyncio.Future[None]:
        fut = asyncio.get_running_loop().create_future()
        pending.append(fut)
        return fut

    for topic in [*p.topics.values(), *p.pair_topics.values()]:
        topic.send = AsyncMock(side_effect=send)
    return pending


async def settle(until, tries: int = 200) -> None:
    for _ in range(tries):
        if until():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def story_and_copy(coder) -> tuple[CodedEvent, CodedEvent]:
    article = CleanArticle(id="a1", lang="en", story_id="s1", source="Example Times",
                           text="North Korea's economic delegation visited Iran on Tuesday.")
    (event,) = [e for e in coder.code(article) if e.pair == "IRN-PRK"]
    copy = event.model_copy(update={"event_id": "e-copy", "article_id": "a2",
                                    "source_name": "Other Wire"})
    return event, copy


async def test_alert_agent_goes_on_before_acks_and_records_only_acked_alerts(settings, coder):
    p = create_pipeline(settings, coder=lambda: coder, watchlist=WATCH)
    pending = held_sends(p)
    event, copy = story_and_copy(coder)
    emitted, stories = p.tables["emitted"], p.tables["stories"]
    async with p.agents["alert"].test_context() as agent:
        first = await agent.put(event.model_dump_json().encode())
        alert_id, version = agent.results[first.message.offset].split(":")
        assert version == "1"
        assert len(pending) == 2  # geomon.alerts and the pair's topic, neither acknowledged
        # the next copy of the story is decided at once, on the first one's pending updates
        second = await agent.put(copy.model_dump_json().encode())
        assert agent.results[second.message.offset] == f"{alert_id}:2"
        assert len(pending) == 4
        # nothing is recorded, nor any event acknowledged, before the broker acks the alerts
        assert emitted.get(alert_id) is None
        assert stories.get("IRN-PRK") is None
        assert not first.message.acked and not second.message.acked
        for fut in pending[2:]:  # the second event's acks come first: it still waits
            fut.set_result(None)
        await asyncio.sleep(0.05)
        assert emitted.get(alert_id) is None
        assert not second.message.acked
        for fut in pending[:2]:
            fut.set_result(None)
        await settle(lambda: second.message.acked)
        assert first.message.acked
        assert emitted[alert_id]["version"] == 2
        assert emitted[alert_id]["sources"] == ["Example Times", "Other Wire"]
        assert stories["IRN-PRK"][0]["articles"] == ["a1", "a2"]


async def test_a_failed_alert_send_stops_the_alert_agent_unacknowledged(settings, coder):
    p = create_pipeline(settings, coder=lambda: coder, watchlist=WATCH)
    pending = held_sends(p)
    event, copy = story_and_copy(coder)
    with pytest.raises(RuntimeError, match="broker said no"):
        async with p.agents["alert"].test_context() as agent:
            first = await agent.put(event.model_dump_json().encode())
            for fut in pending:
                fut.set_exception(RuntimeError("broker said no"))
            await asyncio.sleep(0.05)
            await agent.put(copy.model_dump_json().encode())
    assert not first.message.acked
    assert p.tables["emitted"].get(event.event_id) is None
    assert p.tables["stories"].get("IRN-PRK") is None
