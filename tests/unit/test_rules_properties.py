"""Invariants of the alert rules, checked on generated event streams (hypothesis)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.rules import evaluate
from alerts.watchlist import parse_watchlist
from streams.records import CodedEvent, Evidence, Span

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAIRS = ["IRN-PRK", "PRK-RUS", "CHN-USA", "FRA-DEU"]
CODES = ["036", "042", "043", "057", "062", "112", "163", "195"]
WL = parse_watchlist({"pairs": [{"pair": "IRN-PRK"}, {"pair": "PRK-RUS", "min_confidence": 0.6}]})


def make(pair: str, minutes: int, code: str, conf: float, story: int) -> CodedEvent:
    a, b = sorted(pair.split("-"))
    span = Span(text=a, start=0, end=3, code=a)
    quad = 1 if code < "06" else 2 if code < "09" else 3 if code < "14" else 4
    return CodedEvent(
        event_id=f"e{story}{code}", article_id=f"a{story}", story_id=f"s{story}",
        pair="-".join(sorted((a, b))), source=a, target=b, directed=True, cameo=code,
        root=code[:2], quad_class=quad, goldstein=0.0, confidence=conf, lang="en",
        evidence=Evidence(sentence="x", trigger=span, source=span, target=span),
        published_at=T0 + timedelta(minutes=minutes), coded_at=T0, coder_version="t",
    )


events = st.lists(
    st.builds(make, st.sampled_from(PAIRS), st.integers(0, 60 * 24 * 60), st.sampled_from(CODES),
              st.floats(0, 1), st.integers(0, 30)),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(events)
def test_alerts_only_for_watched_pairs_above_their_confidence(stream):
    states: dict[str, dict] = {}
    for ev in stream:
        watch = WL.get(ev.pair)
        d = evaluate(states.get(ev.pair), ev, watch)
        states[ev.pair] = d.state
        for alert in d.alerts:
            assert watch is not None
            assert alert.pair == ev.pair
            assert ev.confidence >= watch.min_confidence
            assert alert.rule.reason and alert.events == [ev.event_id]


@settings(max_examples=150, deadline=None)
@given(events, st.integers(1, 10))
def test_a_surge_never_fires_below_its_minimum_count(stream, min_count):
    wl = parse_watchlist({"pairs": [{"pair": p, "min_confidence": 0,
                                     "rules": {"surge": {"min_count": min_count, "z": 0.1}}}
                                    for p in PAIRS]})
    states: dict[str, dict] = {}
    for ev in sorted(stream, key=lambda e: e.published_at):
        d = evaluate(states.get(ev.pair), ev, wl.get(ev.pair))
        states[ev.pair] = d.state
        for alert in d.alerts:
            if alert.rule.name == "surge":
                assert alert.rule.numbers["count"] >= min_count


@settings(max_examples=100, deadline=None)
@given(events)
def test_rules_are_deterministic(stream):
    def run():
        states: dict[str, dict] = {}
        ids = []
        for ev in stream:
            d = evaluate(states.get(ev.pair), ev, WL.get(ev.pair), now=T0)
            states[ev.pair] = d.state
            ids += [a.alert_id for a in d.alerts]
        return ids, states

    assert run() == run()
