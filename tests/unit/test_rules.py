import re
from datetime import UTC, datetime, timedelta

import pytest

from alerts.rules import evaluate
from alerts.watchlist import WatchlistError, parse_watchlist
from streams.records import CodedEvent, Evidence, Span

T0 = datetime(2026, 10, 1, tzinfo=UTC)
WL = parse_watchlist({
    "defaults": {"min_confidence": 0.5, "rules": {"first_activity": {"quiet_days": 14}}},
    "pairs": [{"pair": "PRK-IRN", "severity": "high"}, {"pair": "CHN-RUS", "codes": ["19"]}],
})


def event(pair="IRN-PRK", when=T0, story="s1", cameo="042", conf=0.8) -> CodedEvent:
    a, b = pair.split("-")
    span = Span(text=a, start=0, end=3, code=a)
    return CodedEvent(
        event_id=f"e-{story}-{cameo}", article_id=f"a-{story}", story_id=story, pair=pair,
        source=a, target=b, directed=True, cameo=cameo, root=cameo[:2], quad_class=1,
        goldstein=1.9, confidence=conf, lang="en",
        evidence=Evidence(sentence="x", trigger=span, source=span, target=span),
        published_at=when, coded_at=when, coder_version="t", source_name="Example Times",
    )


def test_watchlist_canonicalizes_pairs_and_applies_defaults():
    assert set(WL.pairs) == {"IRN-PRK", "CHN-RUS"}
    assert WL.pairs["IRN-PRK"].severity == "high"
    assert WL.pairs["IRN-PRK"].rules.first_activity.quiet_days == 14


@pytest.mark.parametrize(("doc", "where"), [
    ({"pairs": [{"pair": "IRN"}]}, "pairs[0].pair"),
    ({"pairs": [{"pair": "IRN-PRK", "min_confidence": 3}]}, "pairs[0].min_confidence"),
    ({"pairs": [{"pair": "IRN-PRK", "severity": "apocalyptic"}]}, "pairs[0].severity"),
    ({"pairs": [{"pair": "IRN-PRK"}, {"pair": "PRK-IRN"}]}, "pairs[1].pair"),
    ({"pairs": [{"pair": "IRN-PRK", "rules": {"nope": {}}}]}, "pairs[0].rules.nope"),
])
def test_watchlist_errors_name_the_field(doc, where):
    with pytest.raises(WatchlistError, match=re.escape(where)):
        parse_watchlist(doc)


def test_first_activity_fires_then_stays_quiet_within_the_period():
    first = evaluate(None, event(), WL.get("IRN-PRK"))
    assert first.alert is not None
    assert first.alert.rule.name == "first_activity"
    assert first.alert.severity == "high"
    again = evaluate(first.state, event(when=T0 + timedelta(days=3), story="s2"),
                     WL.get("IRN-PRK"))
    assert again.alert is None
    assert again.state["count"] == 2


def test_quiet_period_elapsed_alerts_again_with_the_gap():
    first = evaluate(None, event(), WL.get("IRN-PRK"))
    later = evaluate(first.state, event(when=T0 + timedelta(days=20), story="s3"),
                     WL.get("IRN-PRK"))
    assert later.alert is not None
    assert later.alert.rule.numbers["gap_days"] == pytest.approx(20.0)


def test_alert_id_is_deterministic():
    a = evaluate(None, event(), WL.get("IRN-PRK")).alert
    b = evaluate(None, event(), WL.get("IRN-PRK")).alert
    assert a is not None and b is not None
    assert a.alert_id == b.alert_id


def test_unwatched_low_confidence_and_other_codes_do_not_alert():
    assert evaluate(None, event(pair="IRN-RUS"), WL.get("IRN-RUS")).alert is None
    assert evaluate(None, event(conf=0.2), WL.get("IRN-PRK")).alert is None
    assert evaluate(None, event(pair="CHN-RUS", cameo="042"), WL.get("CHN-RUS")).alert is None
    assert evaluate(None, event(pair="CHN-RUS", cameo="195"), WL.get("CHN-RUS")).alert is not None


def test_new_event_type_fires_for_an_unseen_root_only():
    wl = WL.get("IRN-PRK")
    s = evaluate(None, event(cameo="042"), wl).state
    d = evaluate(s, event(when=T0 + timedelta(days=1), story="s2", cameo="062"), wl)
    assert [a.rule.name for a in d.alerts] == ["new_event_type"]
    assert "06" in d.alerts[0].rule.reason
    d2 = evaluate(d.state, event(when=T0 + timedelta(days=2), story="s3", cameo="061"), wl)
    assert d2.alerts == []


def test_surge_fires_once_per_day_above_baseline_and_minimum():
    wl = parse_watchlist({"pairs": [{"pair": "IRN-PRK", "rules": {
        "first_activity": None, "new_event_type": None,
        "surge": {"min_count": 4, "z": 2.0}}}]}).get("IRN-PRK")
    state = None
    for day in range(10):  # one event a day: the baseline
        state = evaluate(state, event(when=T0 + timedelta(days=day), story=f"b{day}"), wl).state
    fired = []
    for i in range(8):  # then eight in one afternoon
        d = evaluate(state, event(when=T0 + timedelta(days=10, minutes=10 * i), story=f"x{i}"),
                     wl)
        state = d.state
        fired += [a for a in d.alerts if a.rule.name == "surge"]
    assert len(fired) == 1
    assert fired[0].rule.numbers["count"] >= 4
    assert fired[0].severity == "high"  # one step above the watch's default "medium"


def test_escalation_when_a_cooperative_pair_turns_to_force():
    wl = parse_watchlist({"pairs": [{"pair": "IRN-PRK", "rules": {
        "first_activity": None, "new_event_type": None, "surge": None}}]}).get("IRN-PRK")
    state = None
    for i in range(5):
        state = evaluate(state, event(when=T0 + timedelta(days=i), story=f"c{i}"), wl).state
    strike = event(when=T0 + timedelta(days=6), story="war", cameo="195")
    strike = strike.model_copy(update={"quad_class": 4, "goldstein": -10.0})
    d = evaluate(state, strike, wl)
    assert [a.rule.name for a in d.alerts] == ["escalation"]
    assert d.alerts[0].rule.numbers["baseline"] <= 2.5
