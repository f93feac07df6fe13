"""Replay on the real broker: an exact window, twice with the same ids, a watch-list diff, and an
archive of the topic that replays to the same events as the topic itself.

Articles are produced with record timestamps over seven days of July 2024, in three partitions,
with a backfill (older records after newer ones in one partition), records exactly at both
bounds, a syndicated copy at the same instant as its original, and one bad record.
"""

from __future__ import annotations

import calendar
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

from alerts.watchlist import load_watchlist
from streams.coding.coder import Coder
from streams.normalize import normalize
from streams.records import CleanArticle
from streams.replay import ReplaySource, parse_time, run_replay
from streams.settings import Settings
from streams.topics import KEEP_BY_TIME_FOREVER, TopicSpec, ensure_topics
from tests.conftest import CONFIG_DIR
from tests.integration.conftest import BrokerEndpoint
from tests.integration.helpers import worker_env

pytestmark = pytest.mark.integration

FROM, TO = "2024-07-03T00:00:00Z", "2024-07-06T00:00:00Z"

IRN_PRK = ("Pyongyang envoy in Tehran", "North Korea's foreign minister met Iran's foreign "
           "minister in Tehran on Monday.")
PRK_RUS = ("Moscow and Pyongyang sign pact", "Russia signed a defence agreement with North "
           "Korea on Tuesday.")
CHN_RUS = ("Beijing rebukes Moscow", "China condemned Russia over the border incident.")
IRN_RUS = ("Tehran hosts Moscow", "Iran hosted Russia's foreign minister for talks.")
CHN_IRN = ("Beijing receives Tehran", "China's foreign minister met Iran's foreign minister in "
           "Beijing on Thursday.")


def ms(day: int, hour: int = 0, minute: int = 0, second: int = 0, milli: int = 0) -> int:
    return calendar.timegm((2024, 7, day, hour, minute, second)) * 1000 + milli


def article(n: int, story: tuple[str, str], source: str | None = None) -> bytes:
    title, text = story
    return json.dumps({"id": f"art-{n}", "title": title, "text": text,
                       "source": source or f"Wire {n}", "url": f"https://news.example/{n}"}).encode()


# (partition, record timestamp, value), sent in this order.
SENT: list[tuple[int, int, bytes]] = [
    (0, ms(1, 10), article(0, IRN_PRK)),                    # before the window
    (1, ms(2, 23, 59, 59, 999), article(1, PRK_RUS)),       # 1 ms before --from
    (2, ms(3), article(2, CHN_RUS)),                        # exactly --from: inside
    (0, ms(3, 12), article(3, IRN_RUS)),
    (1, ms(4, 8), article(4, IRN_PRK)),
    (1, ms(4, 9), article(5, CHN_IRN)),
    (2, ms(4, 10), b"\xff\xfe\x00 not an article"),         # bad input: counted, not DLQ'd
    (0, ms(5, 18), article(6, PRK_RUS, "Wire Six")),
    (1, ms(5, 18), article(11, PRK_RUS, "Wire Eleven")),    # a copy, same instant: version 2
    (2, ms(6), article(7, CHN_RUS)),                        # exactly --to: outside
    (0, ms(7, 6), article(8, IRN_RUS)),                     # after the window
    (0, ms(3, 15), article(9, CHN_RUS)),                    # backfill after day 7: inside
    (1, ms(1, 3), article(10, IRN_RUS)),                    # backfill: outside
]
INSIDE = [v for _p, ts, v in SENT if ms(3) <= ts < ms(6)]


@dataclass
class World:
    bootstrap: str
    prefix: str
    env: dict[str, str]
    settings: Settings
    tmp: Path
    first: dict[str, Any]  # the --json summary of run "a"


def topic_records(bootstrap: str, topic: str) -> list[Any]:
    """Every record of a topic, read up to its end offsets (no waiting on a quiet topic)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[Any] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for recs in consumer.poll(timeout_ms=500).values():
                out.extend(recs)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def cli(env: dict[str, str], *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == expect, proc.stderr[-3000:]
    return proc


def events_of(w: World, run: str) -> list[bytes]:
    return sorted(r.value for r in topic_records(w.bootstrap, f"{w.prefix}.replay.{run}.events"))


def alerts_of(w: World, run: str) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in topic_records(w.bootstrap, f"{w.prefix}.replay.{run}.alerts")]


@pytest.fixture(scope="module")
def world(kafka_broker: BrokerEndpoint, tmp_path_factory: pytest.TempPathFactory) -> World:
    """The articles topic with SENT in it, and run "a" replayed by the CLI."""
    tmp = tmp_path_factory.mktemp("replay")
    prefix = f"it-replay-{uuid.uuid4().hex[:6]}"
    env = worker_env(kafka_broker.bootstrap, prefix, tmp / "data", GEOMON_LOG_LEVEL="warn")
    settings = Settings(broker=kafka_broker.url.split(";")[0], topic_prefix=prefix,
                        data_dir=tmp / "data")
    ensure_topics(settings, [TopicSpec(f"{prefix}.articles", 3, KEEP_BY_TIME_FOREVER)])
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all",
                             max_in_flight_requests_per_connection=1)
    try:
        futures = [producer.send(f"{prefix}.articles", partition=p, timestamp_ms=ts, value=v)
                   for p, ts, v in SENT]
        producer.flush()
        assert all(f.succeeded() for f in futures)
    finally:
        producer.close()
    first = json.loads(cli(env, "replay", "--from", FROM, "--to", TO, "--run", "a", "--json").stdout)
    return World(kafka_broker.bootstrap, prefix, env, settings, tmp, first)


def test_window_is_exact_and_a_second_replay_is_identical(world: World, coder: Coder) -> None:
    w = world
    expected = []
    for value in INSIDE:
        art = normalize(value, w.settings.max_article_bytes)
        if isinstance(art, CleanArticle):
            expected += [ev.event_id for ev in coder.code(art)]
    events = events_of(w, "a")
    assert sorted(json.loads(e)["event_id"] for e in events) == sorted(expected)
    assert {json.loads(e)["article_id"] for e in events} >= {"art-2", "art-9", "art-11"}
    assert w.first["run"] == "a"
    assert w.first["articles"] == len(INSIDE) - 1 and w.first["events"] == len(expected)
    assert sum(w.first["alerts_by_pair"].values()) == w.first["alerts"] > 0
    assert w.first["dlq"] == 1
    # the syndicated copy at the same instant raised the version of its original's alert
    alerts = alerts_of(w, "a")
    copies = [a for a in alerts if a["pair"] == "PRK-RUS" and a["version"] == 2]
    assert copies and set(copies[0]["sources"]) == {"Wire Six", "Wire Eleven"}

    # Again, in this process, with a fresh run: byte-identical events, the same alerts.
    wl = load_watchlist(CONFIG_DIR / "watchlist.yaml")
    summary = run_replay(w.settings, ReplaySource(topic=f"{w.prefix}.articles"),
                         parse_time(FROM), parse_time(TO), "a2", lambda: coder, wl)
    assert summary.as_json() | {"run": "a"} == w.first
    assert events_of(w, "a2") == events
    assert sorted(json.dumps(a, sort_keys=True) for a in alerts_of(w, "a2")) == sorted(
        json.dumps(a, sort_keys=True) for a in alerts)

    # The same run name again is refused: a run's topics are never appended to.
    cli(w.env, "replay", "--from", FROM, "--to", TO, "--run", "a", expect=2)


def group_ids(admin: KafkaAdminClient) -> list[str]:
    """Consumer groups, with kafka-python 3's API or 2's."""
    if hasattr(admin, "list_groups"):
        return [g["group_id"] if isinstance(g, dict) else g[0] for g in admin.list_groups()]
    return [g[0] for g in admin.list_consumer_groups()]


def group_offsets(admin: KafkaAdminClient, group: str) -> dict[TopicPartition, Any]:
    if hasattr(admin, "list_group_offsets"):
        return dict(admin.list_group_offsets({group: None}).get(group, {}))
    return dict(admin.list_consumer_group_offsets(group))


def test_replays_touch_no_live_topic_and_no_consumer_group(world: World) -> None:
    w = world
    admin = KafkaAdminClient(bootstrap_servers=w.bootstrap)
    try:
        mine = {t for t in admin.list_topics() if t.startswith(w.prefix + ".")}
        assert {f"{w.prefix}.articles", f"{w.prefix}.replay.a.events",
                f"{w.prefix}.replay.a.alerts"} <= mine
        assert all(t == f"{w.prefix}.articles" or t.startswith(f"{w.prefix}.replay.") for t in mine)
        for group in group_ids(admin):
            offsets = group_offsets(admin, group)
            assert not any(tp.topic.startswith(w.prefix + ".") for tp in offsets), group
    finally:
        admin.close()


def test_watchlist_edit_shows_in_replay_diff(world: World) -> None:
    w = world
    text = (CONFIG_DIR / "watchlist.yaml").read_text(encoding="utf-8")
    edited = text.replace("  - pair: IRN-PRK\n    severity: high\n",
                          "  - pair: IRN-PRK\n    severity: critical\n")
    edited = edited.replace("  - pair: CHN-RUS\n", "  - pair: CHN-IRN\n")
    assert edited.count("critical") == 1 and "CHN-IRN" in edited and "CHN-RUS" not in edited
    watchlist = w.tmp / "watchlist.yaml"
    watchlist.write_text(edited, encoding="utf-8")
    cli(w.env, "replay", "--from", FROM, "--to", TO, "--run", "b", "--watchlist", str(watchlist))

    diff = json.loads(cli(w.env, "replay", "diff", "a", "b", "--json").stdout)
    before, after = alerts_of(w, "a"), alerts_of(w, "b")
    by_kind = {k: {(c["pair"], c["alert_id"]) for c in diff["changes"] if c["kind"] == k}
               for k in ("added", "removed", "changed")}
    assert by_kind["removed"] == {(a["pair"], a["alert_id"]) for a in before
                                  if a["pair"] == "CHN-RUS"} != set()
    assert by_kind["added"] == {(a["pair"], a["alert_id"]) for a in after
                                if a["pair"] == "CHN-IRN"} != set()
    assert by_kind["changed"] == {(a["pair"], a["alert_id"]) for a in after
                                  if a["pair"] == "IRN-PRK"} != set()
    for c in diff["changes"]:
        if c["kind"] == "changed":
            assert c["changed"] == {"severity": ["high", "critical"]}
    assert (diff["added"], diff["removed"], diff["changed"]) == tuple(
        len(by_kind[k]) for k in ("added", "removed", "changed"))
    table = cli(w.env | {"COLUMNS": "200"}, "replay", "diff", "a", "b").stdout
    assert "CHN-IRN" in table and "removed" in table and "high → critical" in table
    assert json.loads(cli(w.env, "replay", "diff", "a", "a", "--json").stdout)["changes"] == []
    cli(w.env, "replay", "diff", "a", "no-such-run", expect=2)


def test_archive_of_the_topic_replays_to_the_same_events(world: World) -> None:
    w = world
    out = w.tmp / "archive"
    cli(w.env, "archive", "--topic", f"{w.prefix}.articles", "--out", str(out), "--until-end")
    days = str(out / f"{w.prefix}.articles" / "*.jsonl.gz")
    summary = json.loads(cli(w.env, "replay", "--from", FROM, "--to", TO, "--files", days,
                             "--run", "f", "--json").stdout)
    assert summary | {"run": "a"} == w.first
    assert events_of(w, "f") == events_of(w, "a")
    assert sorted(a["alert_id"] for a in alerts_of(w, "f")) == sorted(
        a["alert_id"] for a in alerts_of(w, "a"))
