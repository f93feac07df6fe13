"""Feeds on the real broker: served locally, ingested once, never twice, restarts included.

The first poll and the restarts run `geomon ingest --feed` as real processes; "sends nothing" is
measured as unchanged end offsets, which are final because the command returns only after the
broker acknowledged every record.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streams.feeds import FeedPoller, SeenStore
from streams.ingest import record_timestamp_ms
from tests.feed_server import FeedServer, feed_server
from tests.integration.conftest import BrokerEndpoint
from tests.integration.helpers import consume_until, private_articles_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        yield s


def end_total(bootstrap: str, topic: str) -> int:
    """How many records the topic holds: the sum of its partitions' end offsets."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def ingest_feeds(env: dict[str, str], state: Path, *urls: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "streams.cli", "ingest", "--state", str(state), "--feed", *urls]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)


def test_feed_is_ingested_once_across_polls_and_restarts(
    kafka_broker: BrokerEndpoint, server: FeedServer, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap
    topic, env = private_articles_topic(bootstrap, "feeds", tmp_path / "data")
    state = tmp_path / "feeds.sqlite3"
    rss = server.put("/world.rss", "meridian_rss.xml")
    atom = server.put("/fr/atom.xml", "veilleur_atom.xml", "application/atom+xml")
    broken = server.put("/broken.xml", "broken.xml")

    # first poll, a real process: 3 + 2 entries sent; the broken feed is reported, not fatal
    first = ingest_feeds(env, state, rss, broken, atom)
    assert first.returncode == 1, first.stderr
    assert f"{rss}: 3 new of 3 entries" in first.stderr
    assert f"{atom}: 2 new of 2 entries" in first.stderr
    assert f"{broken}: error: malformed feed" in first.stderr
    assert end_total(bootstrap, topic) == 5

    # unchanged feed, new process: conditional GETs answered 304, nothing sent
    second = ingest_feeds(env, state, rss, atom)
    assert second.returncode == 0, second.stderr
    assert second.stderr.count("not modified (304)") == 2
    assert server.seen("/world.rss")[-1].status == 304
    assert server.seen("/world.rss")[-1].headers["If-None-Match"] == server.resources[
        "/world.rss"
    ].etag
    assert end_total(bootstrap, topic) == 5

    # a server that forgets validators, and a new FeedPoller on the same state: still nothing
    server.honour_conditional = False
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    store = SeenStore(state)
    try:
        results = FeedPoller(producer, topic, store).poll([rss, atom])
    finally:
        producer.close()
        store.close()
    assert [(r.status, r.sent) for r in results] == [("unchanged", 0), ("unchanged", 0)]
    assert server.seen("/world.rss")[-1].status == 200
    assert end_total(bootstrap, topic) == 5

    # one new entry in the feed: exactly that one is sent
    server.honour_conditional = True
    server.put("/world.rss", "meridian_rss_v2.xml")
    third = ingest_feeds(env, state, rss, atom)
    assert third.returncode == 0, third.stderr
    assert f"{rss}: 1 new of 4 entries" in third.stderr
    assert end_total(bootstrap, topic) == 6

    records = consume_until(bootstrap, topic, lambda r: len(r) >= 6, timeout=60)
    assert len(records) == 6
    articles = [json.loads(r.value) for r in records]
    assert len({a["id"] for a in articles}) == 6
    for rec, art in zip(records, articles, strict=True):
        assert rec.key == art["id"].encode()
        assert rec.timestamp == record_timestamp_ms(datetime.fromisoformat(art["published_at"]))
        assert art["text"] and art["url"].startswith(server.base) and art["source"]
    assert {a["source"] for a in articles} == {"The Meridian Courier", "Le Veilleur du Large"}
    newest = max(records, key=lambda r: r.timestamp)
    assert json.loads(newest.value)["title"] == "China and Russia hold a joint naval drill"
