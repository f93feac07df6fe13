"""Story clustering and alert versions, through the pure engine."""

import json
from datetime import UTC, datetime, timedelta

from alerts.engine import process_event
from alerts.stories import canonical_url, packed, similarity, text_signature
from alerts.watchlist import parse_watchlist
from streams.records import CodedEvent, Evidence, Span

T0 = datetime(2026, 10, 1, 8, tzinfo=UTC)
WL = parse_watchlist({"pairs": [{"pair": "IRN-PRK"}]})
STORY = ("A North Korean economic delegation led by the external economic relations minister "
         "arrived in Tehran on Tuesday for talks on trade, science and technology, the state "
         "news agency said, in the first such visit since the pandemic.")
OTHER = ("Iran's foreign minister flew to Pyongyang on Sunday for a two-day official visit "
         "and met his North Korean counterpart to discuss sanctions and shipping.")


def copy(n: int, text: str = STORY, story: str = "s-visit", minutes: int = 0) -> CodedEvent:
    span = Span(text="x", start=0, end=1, code="PRK")
    outlet = f"Outlet {n}"
    return CodedEvent(
        event_id=f"e{n}-{story}", article_id=f"a{n}-{story}", story_id=f"{story}-{n % 3}",
        pair="IRN-PRK", source="PRK", target="IRN", directed=True, cameo="042", root="04",
        quad_class=1, goldstein=1.9, confidence=0.9, lang="en",
        evidence=Evidence(sentence=text[:80], trigger=span, source=span, target=span),
        url=f"https://outlet{n}.example/{story}", source_name=outlet,
        published_at=T0 + timedelta(minutes=minutes + n),
        signature=text_signature(f"{text} {outlet} staff"),
        coded_at=T0, coder_version="t",
    )


def run(events):
    state, clusters, emitted, out = None, None, {}, []
    for ev in events:
        o = process_event(state, clusters, ev, WL.get(ev.pair), emitted.get)
        state, clusters = o.state, o.clusters
        for a in o.alerts:
            emitted[a.alert_id] = a.model_dump(mode="json")
            out.append(a)
    return out, emitted


def test_twenty_copies_give_one_alert_with_twenty_sources():
    out, emitted = run([copy(n) for n in range(20)])
    assert len(emitted) == 1
    (latest,) = emitted.values()
    assert latest["version"] == 20
    assert len(latest["sources"]) == 20
    assert [a.version for a in out] == list(range(1, 21))


def test_two_different_stories_give_two_alerts():
    out, emitted = run([copy(0), copy(1), copy(0, OTHER, "s-fm", minutes=30 * 60 * 24)])
    assert len({a.alert_id for a in out}) >= 2
    assert {a.rule.name for a in out} >= {"first_activity"}


def test_reprocessing_an_article_changes_nothing():
    events = [copy(n) for n in range(3)]
    out, emitted = run([*events, events[1], events[2]])
    (latest,) = emitted.values()
    assert latest["version"] == 3


def test_near_duplicate_text_and_canonical_urls():
    a, b = text_signature(STORY), text_signature(STORY + " Reporting by staff.")
    assert similarity(a, b) >= 0.7
    assert similarity(a, text_signature(OTHER)) < 0.3
    assert canonical_url("https://www.x.example/a/?utm_source=t#c") == canonical_url(
        "http://x.example/a")


def test_copies_arriving_after_a_much_newer_story_still_join_their_story():
    late = [copy(n) for n in range(5, 10)]
    newer = copy(99, OTHER, "s-fm", minutes=16 * 24 * 60)
    out, emitted = run([*[copy(n) for n in range(5)], newer, *late])
    first = [a for a in out if a.rule.name == "first_activity"]
    versions = [a.version for a in out if a.alert_id == first[0].alert_id]
    assert max(versions) == 10


def test_clusters_store_signatures_packed_and_compare_either_form():
    a, b = text_signature(STORY), text_signature(STORY + " Reporting by staff.")
    assert similarity(packed(a), b) == similarity(a, b) == similarity(packed(a), packed(b))
    assert similarity(packed(a), text_signature(OTHER)) < 0.3
    assert len(packed(a)) < 0.6 * len(json.dumps(a))
    clusters = process_event(None, None, copy(0), WL.get("IRN-PRK"), {}.get).clusters
    assert isinstance(clusters[0]["signature"], str)


def test_a_cluster_written_with_a_listed_signature_still_takes_its_copies():
    """Clusters in tables from before signatures were packed keep matching by text."""
    first = process_event(None, None, copy(0), WL.get("IRN-PRK"), {}.get)
    old = [dict(c, signature=copy(0).signature) for c in first.clusters]
    later = copy(1).model_copy(update={"story_id": "other-title", "url": None})
    o = process_event(first.state, old, later, WL.get("IRN-PRK"), {}.get)
    assert len(o.clusters) == 1 and o.clusters[0]["articles"] == ["a0-s-visit", "a1-s-visit"]


def test_unspaced_scripts_are_counted_as_the_character_test_counts_them():
    from streams.coding.text import UNSPACED_CHAR, is_unspaced

    for cp in [*range(0x0, 0x3000, 7), *range(0x3000, 0xA000), *range(0xA000, 0x20000, 13)]:
        if not 0xD800 <= cp <= 0xDFFF:
            assert bool(UNSPACED_CHAR.fullmatch(chr(cp))) == is_unspaced(chr(cp)), hex(cp)


def test_copies_in_unspaced_scripts_match_whatever_their_spacing():
    lead = "朝鲜外务相抵达德黑兰，与伊朗外长举行会谈，双方讨论了贸易和科技合作。" * 3
    spaced = " ".join(lead[i : i + 5] for i in range(0, len(lead), 5))
    assert similarity(text_signature(lead), text_signature(spaced)) == 1.0
    assert similarity(text_signature(lead), text_signature("俄罗斯总统访问平壤并签署协议。" * 5)) < 0.3
