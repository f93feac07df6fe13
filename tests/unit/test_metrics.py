"""Metrics: a fresh registry per pipeline, bounded labels, counters that move with the agents."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import timedelta
from types import SimpleNamespace

import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest

from alerts.watchlist import parse_watchlist
from streams import metrics as M
from streams.app import Pipeline, create_pipeline
from streams.normalize import Reason
from streams.records import CleanArticle, utcnow
from tests.fakes import fake_send

WATCH = parse_watchlist({"pairs": [{"pair": "IRN-PRK", "severity": "high"}]})
COUNTRIES = ["Iran", "North Korea", "Russia", "China", "France", "Germany", "Brazil", "India",
             "Japan", "Turkey", "Egypt", "Mexico", "Canada", "Spain", "Italy", "Poland"]


@pytest.fixture
def pipe(settings, coder) -> Pipeline:
    p = create_pipeline(settings, coder=lambda: coder, watchlist=WATCH)
    for topic in [*p.topics.values(), *p.pair_topics.values()]:
        topic.send = fake_send()
    return p


def value(pipe: Pipeline, name: str, **labels: str) -> float:
    return pipe.metrics.registry.get_sample_value(name, labels) or 0.0


def geomon_series(registry: CollectorRegistry) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """Every geomon_* metric family -> the label sets of its samples (``le`` left out)."""
    out: dict[str, set[tuple[tuple[str, str], ...]]] = defaultdict(set)
    for family in registry.collect():
        if not family.name.startswith("geomon_"):
            continue
        out[family.name]  # families without samples count too
        for sample in family.samples:
            out[family.name].add(tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le")))
    return out


def assert_within_bounds(metrics: M.Metrics) -> None:
    """Every label value of every geomon metric is one of its declared bounded values."""
    bounds = metrics.label_values()
    series = geomon_series(metrics.registry)
    assert set(series) == set(bounds), "a metric without declared label bounds"
    for name, label_sets in series.items():
        for labels in label_sets:
            for key, val in labels:
                assert key in bounds[name], f"{name} has an undeclared label {key!r}"
                assert val in bounds[name][key], f"{name}{{{key}={val!r}}} is not a bounded value"


# --------------------------------------------------------------------------- registry, page


def test_each_pipeline_has_its_own_registry_with_geomon_and_faust_metrics(settings, coder):
    a = create_pipeline(settings, coder=lambda: coder, watchlist=WATCH)
    b = create_pipeline(settings, coder=lambda: coder, watchlist=WATCH)
    assert a.metrics.registry is not b.metrics.registry
    a.metrics.article_ok("en")
    assert a.metrics.registry.get_sample_value("geomon_articles_total",
                                               {"lang": "en", "status": "ok"}) == 1
    assert b.metrics.registry.get_sample_value("geomon_articles_total",
                                               {"lang": "en", "status": "ok"}) is None
    text = generate_latest(a.metrics.registry).decode()
    assert "geomon_build_info{" in text and "faust_messages_received_total" in text
    # Faust's sensor serves our registry: one page, at /metrics, and nothing else of ours
    assert list(a.app.web.views) == ["/metrics"]


def test_build_info_and_units():
    m = M.Metrics(CollectorRegistry(), languages={"en"}, pairs={"IRN-PRK"}, rules={"r"})
    (info,) = [s for f in m.registry.collect() if f.name == "geomon_build_info" for s in f.samples]
    assert info.value == 1
    assert info.labels["version"] == M.geomon_version()
    assert info.labels["coder_version"]
    names = {f.name for f in m.registry.collect() if f.type == "histogram"}
    assert names == {"geomon_coder_seconds", "geomon_end_to_end_seconds"}  # seconds, as named
    assert m.registry.get_sample_value("geomon_worker_up") == 0


# --------------------------------------------------------------------------- bounded labels


def test_no_label_grows_with_the_data():
    """Thousands of distinct ids, urls, languages, pairs, reasons and rules: bounded series."""
    rng = random.Random(5)
    m = M.Metrics(CollectorRegistry(), languages={"en", "ru"}, pairs={"IRN-PRK", "CHN-RUS"},
                  rules={"first_activity", "surge"})

    def feed(round_: int) -> None:
        for i in range(1500):
            tag = f"{round_}-{i}-{rng.random()}"
            m.article_ok(rng.choice(["en", "ru", f"lang-{tag}", f"https://x/{tag}"]))
            m.article_rejected(rng.choice([*Reason, f"reason-{tag}"]))
            m.dead_letter(rng.choice(["schema", "coder_error", f"id-{tag}"]))
            pair = rng.choice(["IRN-PRK", "CHN-RUS", f"A{i}-B{round_}"])
            root = rng.choice([f"{n:02d}" for n in range(1, 21)] + [f"{i}"])
            m.coded([SimpleNamespace(pair=pair, root=root)])  # type: ignore[list-item]
            alert = SimpleNamespace(
                pair=pair, severity=rng.choice(["high", f"sev-{tag}"]),
                rule=SimpleNamespace(name=rng.choice(["surge", f"rule-{tag}"])),
            )
            m.alert_emitted(alert, utcnow() - timedelta(seconds=rng.random() * 10))  # type: ignore[arg-type]
            m.coder_seconds.observe(rng.random())

    feed(1)
    after_one = geomon_series(m.registry)
    feed(2)
    assert geomon_series(m.registry) == after_one, "a label took new values from new data"
    assert_within_bounds(m)
    counts = {name: len(s) for name, s in after_one.items()}
    assert counts["geomon_articles"] <= 3 * 2
    assert counts["geomon_events"] <= 3 * 21
    assert counts["geomon_alerts"] <= 3 * 3 * 6


async def test_agents_keep_labels_bounded_whatever_the_articles_say(pipe, coder):
    """Articles with fresh ids, urls and made-up languages; events between many countries."""
    rng = random.Random(7)
    async with pipe.agents["normalize"].test_context() as agent:
        for i in range(60):
            await agent.put(json.dumps({
                "id": f"article-{i}-{rng.random()}", "url": f"https://example.org/{i}",
                "lang": rng.choice(["en", f"x{i}", "tlh"]), "source": f"Outlet {i}",
                "text": f"{rng.choice(COUNTRIES)} met {rng.choice(COUNTRIES)} on day {i}.",
            }).encode())
            await agent.put(f"garbage {i}".encode() + b"\x00\x01")
    articles = [CleanArticle(id=f"a{i}", lang="en", story_id=f"s{i}", url=f"https://e.org/{i}",
                             text=f"{a}'s foreign minister visited {b} on Monday.")
                for i, (a, b) in enumerate((a, b) for a in COUNTRIES for b in COUNTRIES if a != b)]
    async with pipe.agents["code"].test_context() as agent:
        for article in articles:
            await agent.put(article.model_dump_json().encode())
    events = [e for a in articles for e in coder.code(a)]
    assert len({e.pair for e in events}) > 20, "the test needs many distinct pairs"
    async with pipe.agents["alert"].test_context() as agent:
        for e in events:
            await agent.put(e.model_dump_json().encode())
    assert_within_bounds(pipe.metrics)
    pairs = {labels[0][1] for labels in geomon_series(pipe.metrics.registry)["geomon_events"]
             if labels}
    assert pairs <= {"IRN-PRK", "other"} and "other" in pairs


# --------------------------------------------------------------------------- counters move


async def test_normalize_counts_articles_by_language_and_dlq_by_reason(pipe):
    good = json.dumps({"id": "g1", "text": "Delegasi Korea Utara mengunjungi Iran."}).encode()
    async with pipe.agents["normalize"].test_context() as agent:
        await agent.put(b"\xff\xfe not utf-8")
        await agent.put(good)
        await agent.put(b'{"text": 12}')
        await agent.put(json.dumps({"id": "g2", "lang": "qq", "text": "Iran."}).encode())
    assert value(pipe, "geomon_articles_total", lang="id", status="ok") == 1
    assert value(pipe, "geomon_articles_total", lang="other", status="ok") == 1
    assert value(pipe, "geomon_articles_total", lang="other", status="dlq") == 2
    assert value(pipe, "geomon_dlq_total", reason="not_utf8") == 1
    assert value(pipe, "geomon_dlq_total", reason="schema") == 1


async def test_code_agent_counts_events_by_pair_and_root_and_times_the_coder(pipe):
    article = CleanArticle(id="a1", lang="en", story_id="s1",
                           text="North Korea's economic delegation visited Iran on Tuesday.")
    async with pipe.agents["code"].test_context() as agent:
        await agent.put(article.model_dump_json().encode())
        await agent.put(b'{"id": 1}')
    total = sum(value(pipe, "geomon_events_total", pair="IRN-PRK", root=f"{n:02d}")
                for n in range(1, 21))
    assert total >= 1
    assert value(pipe, "geomon_coder_seconds_count") == 1
    assert 0 < value(pipe, "geomon_coder_seconds_sum") < 10
    assert value(pipe, "geomon_dlq_total", reason="schema") == 1


async def test_a_coder_failure_counts_as_coder_error(settings):
    class Broken:
        def code(self, article):
            raise RuntimeError("coder bug")

    p = create_pipeline(settings, coder=lambda: Broken(), watchlist=WATCH)
    for topic in p.topics.values():
        topic.send = fake_send()
    article = CleanArticle(id="x", lang="en", story_id="s", text="North Korea visited Iran.")
    async with p.agents["code"].test_context() as agent:
        await agent.put(article.model_dump_json().encode())
    assert value(p, "geomon_dlq_total", reason="coder_error") == 1
    assert value(p, "geomon_coder_seconds_count") == 1


async def test_alert_agent_counts_alerts_and_end_to_end_latency(pipe, coder):
    article = CleanArticle(id="a1", lang="en", story_id="s1", source="Example Times",
                           ingested_at=utcnow() - timedelta(seconds=3),
                           text="North Korea's economic delegation visited Iran on Tuesday.")
    (event,) = [e for e in coder.code(article) if e.pair == "IRN-PRK"]
    async with pipe.agents["alert"].test_context() as agent:
        first = await agent.put(event.model_dump_json().encode())
        assert agent.results[first.message.offset]
    samples = [s for f in pipe.metrics.registry.collect() if f.name == "geomon_alerts"
               for s in f.samples if s.name == "geomon_alerts_total"]
    assert sum(s.value for s in samples) >= 1
    assert {s.labels["pair"] for s in samples} == {"IRN-PRK"}
    assert {s.labels["severity"] for s in samples} == {"high"}
    assert {s.labels["rule"] for s in samples} <= pipe.metrics.rules
    assert value(pipe, "geomon_end_to_end_seconds_count") >= 1
    assert value(pipe, "geomon_end_to_end_seconds_sum") >= 3


# --------------------------------------------------------------------------- consumer lag


class FakeConsumer:
    def __init__(self, offsets: dict[tuple[str, int], tuple[int | None, int | None]]) -> None:
        self.offsets = {TP(t, p): hp for (t, p), hp in offsets.items()}

    def assignment(self):
        return set(self.offsets)

    def highwater(self, tp):
        return self.offsets[tp][0]

    async def position(self, tp):
        return self.offsets[tp][1]


async def test_consumer_lag_sums_highwater_minus_position_per_topic():
    m = M.Metrics(CollectorRegistry(), languages=(), pairs=(), rules=())
    consumer = FakeConsumer({
        ("g.articles", 0): (10, 4), ("g.articles", 1): (7, 7), ("g.events", 0): (5, 2),
        ("g.events", 1): (None, 0),  # no fetch yet: unknown, left out
        ("g-pair_state-changelog", 0): (100, 0),  # not an agent's topic
    })
    await m.refresh_lag(consumer, {"g.articles", "g.events"})
    assert m.registry.get_sample_value("geomon_consumer_lag", {"topic": "g.articles"}) == 6
    assert m.registry.get_sample_value("geomon_consumer_lag", {"topic": "g.events"}) == 3
    assert m.registry.get_sample_value(
        "geomon_consumer_lag", {"topic": "g-pair_state-changelog"}) is None
    await m.refresh_lag(FakeConsumer({("g.events", 0): (9, 9)}), {"g.articles", "g.events"})
    assert m.registry.get_sample_value("geomon_consumer_lag", {"topic": "g.articles"}) is None
    assert m.registry.get_sample_value("geomon_consumer_lag", {"topic": "g.events"}) == 0
    assert_within_bounds(m)


def test_lag_topics_are_the_agents_source_topics(pipe, settings):
    assert M.agent_topics(pipe.app) >= {settings.topic("articles"),
                                        settings.topic("articles.clean"),
                                        settings.topic("events")}


def test_languages_are_those_with_a_lexicon(settings):
    langs = M.lexicon_languages(settings.config_dir)
    assert {"en", "ru"} <= langs
    assert all(len(x) <= 3 for x in langs)
