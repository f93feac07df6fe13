"""The replay's pure core without a broker: range, order, determinism, run names, diff, files."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.watchlist import load_watchlist
from streams.archive import ArchivedRecord, ArchiveWriter
from streams.coding.coder import Coder
from streams.normalize import normalize
from streams.records import CleanArticle
from streams.replay import (
    Replayer,
    ReplayError,
    ReplaySummary,
    check_run_name,
    config_fingerprint,
    default_run_name,
    diff_alerts,
    in_range,
    latest_alerts,
    order_records,
    parse_time,
    read_files,
    replay_records,
    to_ms,
)
from tests.conftest import CONFIG_DIR

DAY0 = datetime(2024, 6, 3, tzinfo=UTC)

# Our own article texts: one interaction of a watched pair each.
TEXTS = [
    ("Pyongyang envoy in Tehran", "North Korea's foreign minister met Iran's foreign minister "
     "in Tehran on Monday."),
    ("Moscow and Pyongyang sign pact", "Russia signed a defence agreement with North Korea on "
     "Tuesday."),
    ("Beijing rebukes Moscow", "China condemned Russia over the border incident."),
    ("Tehran hosts Moscow", "Iran hosted Russia's foreign minister for talks."),
]


def article_bytes(n: int, when: datetime, title: str, text: str, source: str = "Wire") -> bytes:
    return json.dumps({
        "id": f"a{n}", "title": title, "text": text, "source": source,
        "url": f"https://news.example/{n}", "published_at": when.isoformat(),
    }).encode()


def records() -> list[ArchivedRecord]:
    """Eight articles over four days in three partitions, offsets not in time order."""
    out = []
    for n in range(8):
        title, text = TEXTS[n % 4]
        when = DAY0 + timedelta(days=n // 2, hours=n)
        value = article_bytes(n, when, f"{title} ({n})", text, source=f"Wire {n}")
        out.append(ArchivedRecord("geomon.articles", n % 3, 10 - n, to_ms(when), b"k", value))
    return out


def test_range_is_half_open() -> None:
    assert in_range(100, 100, 200)
    assert in_range(199, 100, 200)
    assert not in_range(200, 100, 200)
    assert not in_range(99, 100, 200)


def test_order_is_time_then_topic_partition_offset_whatever_the_input_order() -> None:
    base = to_ms(DAY0)
    recs = [
        ArchivedRecord("t", 1, 5, base + 10, None, b"x"),
        ArchivedRecord("t", 0, 9, base + 10, None, b"x"),
        ArchivedRecord("t", 0, 3, base + 10, None, b"x"),
        ArchivedRecord("s", 2, 0, base + 10, None, b"x"),
        ArchivedRecord("t", 2, 1, base + 5, None, b"x"),
        ArchivedRecord("t", 2, 2, base + 20, None, b"x"),  # at the end: outside
        ArchivedRecord("t", 2, 0, base - 1, None, b"x"),  # before the start: outside
    ]
    want = [("t", 2, 1), ("s", 2, 0), ("t", 0, 3), ("t", 0, 9), ("t", 1, 5)]
    for seed in range(5):
        shuffled = recs[:]
        random.Random(seed).shuffle(shuffled)
        got = order_records(shuffled, base, base + 20)
        assert [(r.topic, r.partition, r.offset) for r in got] == want


def run(coder: Coder, recs: list[ArchivedRecord], start: datetime, end: datetime) -> tuple[
    ReplaySummary, list[bytes], list[tuple[str, int]]
]:
    replayer = Replayer(coder, load_watchlist(CONFIG_DIR / "watchlist.yaml"), 2_000_000)
    summary = ReplaySummary("t")
    events: list[bytes] = []
    alerts: list[tuple[str, int]] = []
    for rec, step in replay_records(replayer, recs, to_ms(start), to_ms(end), summary):
        for ev in step.events:
            assert ev.coded_at == rec.timestamp  # the record time, not the wall clock
            events.append(ev.model_dump_json().encode())
        for a in step.alerts:
            assert a.created_at == rec.timestamp
            alerts.append((a.alert_id, a.version))
    return summary, events, alerts


def test_replay_is_deterministic_and_exact(coder: Coder) -> None:
    recs = records()
    start, end = DAY0 + timedelta(days=1), DAY0 + timedelta(days=3)  # articles 2..5
    first = run(coder, recs, start, end)
    shuffled = recs[::-1]
    second = run(coder, shuffled, start, end)
    assert first[1] == second[1] and first[2] == second[2]  # byte-identical events, same ids
    summary = first[0]
    assert summary.articles == 4 and summary.events == len(first[1])
    clean = [normalize(r.value, 2_000_000) for r in recs]
    expected = {
        ev.article_id
        for r, art in zip(recs, clean, strict=True)
        if in_range(r.timestamp_ms, to_ms(start), to_ms(end)) and isinstance(art, CleanArticle)
        for ev in coder.code(art)
    }
    assert {json.loads(e)["article_id"] for e in first[1]} == expected
    assert expected <= {"a2", "a3", "a4", "a5"} and expected
    assert summary.as_json()["alerts"] == len({a for a, _ in first[2]})
    assert sum(summary.alerts_by_pair.values()) == summary.as_json()["alerts"]


def test_bad_input_is_counted_not_raised(coder: Coder) -> None:
    base = to_ms(DAY0)
    recs = [
        ArchivedRecord("t", 0, 0, base, None, b"\xff\xfe not utf-8"),
        ArchivedRecord("t", 0, 1, base + 1, None, None),
        ArchivedRecord("t", 0, 2, base + 2, None, b'{"text": 5}'),
    ]
    summary, events, _ = run(coder, recs, DAY0, DAY0 + timedelta(days=1))
    assert (summary.articles, events) == (0, [])
    assert summary.dlq == {"not_utf8": 1, "empty": 1, "schema": 1}
    assert summary.as_json()["dlq"] == 3


def test_run_names() -> None:
    start, end = parse_time("2024-06-01"), parse_time("2024-06-08T00:00:00Z")
    assert start == datetime(2024, 6, 1, tzinfo=UTC) and end == datetime(2024, 6, 8, tzinfo=UTC)
    a = default_run_name(start, end, "topic:geomon.articles", "f1")
    assert a == default_run_name(start, end, "topic:geomon.articles", "f1")
    assert a.startswith("20240601T000000Z-20240608T000000Z-")
    assert a != default_run_name(start, end, "topic:geomon.articles", "f2")
    assert check_run_name(a) == a
    for bad in ("", "a.b", "../x", "a b", "x" * 81):
        with pytest.raises(ReplayError):
            check_run_name(bad)
    with pytest.raises(ReplayError):
        parse_time("last tuesday")


def test_fingerprint_follows_the_watchlist(tmp_path: Path) -> None:
    wl = tmp_path / "watchlist.yaml"
    wl.write_text((CONFIG_DIR / "watchlist.yaml").read_text())
    before = config_fingerprint(CONFIG_DIR, wl)
    assert before == config_fingerprint(CONFIG_DIR, wl)
    wl.write_text(wl.read_text().replace("severity: high", "severity: critical", 1))
    assert config_fingerprint(CONFIG_DIR, wl) != before


def alert(alert_id: str, version: int = 1, severity: str = "medium", numbers: dict[str, float]
          | None = None, sources: list[str] | None = None, pair: str = "IRN-PRK",
          rule: str = "first_activity") -> dict[str, object]:
    return {"alert_id": alert_id, "version": version, "pair": pair, "severity": severity,
            "rule": {"name": rule, "reason": "r", "numbers": numbers or {"n": 1.0}},
            "sources": sources or ["A"], "cameo": "040"}


def test_latest_version_wins_and_junk_is_skipped() -> None:
    values = [json.dumps(alert("x", 1)).encode(), json.dumps(alert("x", 3, "high")).encode(),
              json.dumps(alert("x", 2)).encode(), b"not json", b"[1]", None,
              json.dumps({"no": "id"}).encode()]
    got = latest_alerts(values)
    assert list(got) == ["x"] and got["x"]["version"] == 3 and got["x"]["severity"] == "high"


def test_diff_added_removed_changed_by_pair_and_rule() -> None:
    a = {
        "same": alert("same", sources=["A", "B"]),
        "gone": alert("gone", pair="CHN-RUS"),
        "sev": alert("sev", severity="high"),
        "num": alert("num", numbers={"z": 3.0}, pair="PRK-RUS", rule="surge"),
        "src": alert("src", sources=["A"], pair="IRN-RUS"),
        "ver": alert("ver", version=1),
    }
    b = {
        "same": alert("same", sources=["B", "A"]),  # order of sources does not matter
        "new": alert("new", pair="CHN-PRK"),
        "sev": alert("sev", severity="critical"),
        "num": alert("num", numbers={"z": 4.5}, pair="PRK-RUS", rule="surge"),
        "src": alert("src", sources=["A", "C"], pair="IRN-RUS"),
        "ver": alert("ver", version=2),  # a new version with nothing compared changed
    }
    changes = diff_alerts(a, b)
    got = [(c.pair, c.rule, c.kind, c.alert_id, sorted(c.fields)) for c in changes]
    assert got == [
        ("CHN-PRK", "first_activity", "added", "new", []),
        ("CHN-RUS", "first_activity", "removed", "gone", []),
        ("IRN-PRK", "first_activity", "changed", "sev", ["severity"]),
        ("IRN-RUS", "first_activity", "changed", "src", ["sources"]),
        ("PRK-RUS", "surge", "changed", "num", ["numbers"]),
    ]
    assert changes[2].fields["severity"] == ("high", "critical")
    assert diff_alerts(a, a) == []


def test_read_files_archives_and_plain_files(tmp_path: Path) -> None:
    recs = records()
    writer = ArchiveWriter(tmp_path / "arch", "geomon.articles")
    writer.write(recs)
    writer.close()
    folder = tmp_path / "arch" / "geomon.articles"
    start, end = DAY0 + timedelta(days=1), DAY0 + timedelta(days=3)
    inside = {(r.partition, r.offset) for r in recs if in_range(r.timestamp_ms, to_ms(start), to_ms(end))}

    got, undated = read_files([str(folder)], start, end)
    assert {(r.partition, r.offset) for r in got} >= inside and undated == 0
    got, _ = read_files([str(folder / "*")], start, end)  # day files; the state file is skipped
    assert {(r.partition, r.offset) for r in got if in_range(r.timestamp_ms, to_ms(start), to_ms(end))} == inside
    got, _ = read_files([str(folder / "2024-06-04.jsonl.gz")], start, end)  # one day only
    assert {r.day for r in got} == {"2024-06-04"}

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.jsonl").write_bytes(b"\n".join(r.value or b"" for r in recs) + b"\n")
    (plain / "b.txt").write_text("No date: Russia condemned China.")
    got, undated = read_files([str(plain / "*")], start, end)
    assert undated == 1 and len(got) == len(recs)
    assert sorted(r.timestamp_ms for r in got) == sorted(r.timestamp_ms for r in recs)
    with pytest.raises(ReplayError):
        read_files([str(tmp_path / "nothing-*")], start, end)
