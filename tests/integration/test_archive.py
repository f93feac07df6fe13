"""The archive on the real broker: three days of records, any bytes, written once, resumed.

`geomon archive --until-end` runs as a real process; its result is compared with what was
produced and with what an independent kafka-python consumer reads from the topic.
"""

from __future__ import annotations

import calendar
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from streams.archive import STATE_FILE, ArchivedRecord, archive_topic, read_archive
from streams.settings import Settings
from streams.topics import TopicSpec, ensure_topics
from tests.integration.conftest import BrokerEndpoint
from tests.integration.helpers import consume_until, private_articles_topic

pytestmark = pytest.mark.integration

Sent = tuple[int, int, bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, minute, second)) * 1000


def send(bootstrap: str, topic: str, items: list[Sent]) -> None:
    """(partition, timestamp_ms, key, value, headers) each; waits for every acknowledgement."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        futures = [
            producer.send(topic, partition=p, timestamp_ms=ts, key=k, value=v, headers=list(h))
            for p, ts, k, v, h in items
        ]
        producer.flush()
        assert all(f.succeeded() for f in futures)
    finally:
        producer.close()


def as_tuple(r: Any) -> tuple[Any, ...]:
    """What must survive the archive, from a ConsumerRecord or an ArchivedRecord."""
    if isinstance(r, ArchivedRecord):
        return (r.partition, r.offset, r.timestamp_ms, r.key, r.value, r.headers)
    headers = tuple((k, v) for k, v in r.headers or [])
    return (r.partition, r.offset, r.timestamp, r.key, r.value, headers)


def run_archive(env: dict[str, str], topic: str, out: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "archive", "--topic", topic, "--out", str(out),
         "--until-end"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


FIRST: list[Sent] = [
    (0, ms(2024, 3, 1, 8), b"a1", b'{"text": "Premier jour, caf\xc3\xa9."}', ()),
    (1, ms(2024, 3, 1, 23, 59, 59) + 999, None, b"\xff\xfe\x00\x80 not UTF-8 \xc3\x28", ()),
    (2, ms(2024, 3, 2), b"\x00\xffkey", b"midnight exactly", (("geomon-reason", b"\xff\x00"),)),
    (0, ms(2024, 3, 2, 13, 5), b"a2", b"", ()),
    (1, ms(2024, 3, 3, 6), b"a3", b"\x89PNG\r\n\x1a\n binary", (("h", b"x"), ("h", b"y"))),
    (2, ms(2024, 3, 3, 23, 0), b"a4", None, ()),  # a tombstone
]
DAYS = {"2024-03-01.jsonl.gz": 2, "2024-03-02.jsonl.gz": 2, "2024-03-03.jsonl.gz": 2}


def test_archive_three_days_then_resume(kafka_broker: BrokerEndpoint, tmp_path: Path) -> None:
    bootstrap = kafka_broker.bootstrap
    topic, env = private_articles_topic(bootstrap, "arch", tmp_path / "data")
    out = tmp_path / "archive"
    folder = out / topic
    send(bootstrap, topic, FIRST)

    run_archive(env, topic, out)
    assert sorted(p.name for p in folder.glob("*.jsonl.gz")) == sorted(DAYS)
    assert (folder / STATE_FILE).exists()
    archived = list(read_archive(out, topic))
    topic_records = consume_until(bootstrap, topic, lambda r: len(r) >= len(FIRST), timeout=60)
    assert sorted(map(as_tuple, archived)) == sorted(map(as_tuple, topic_records))
    assert sorted((r.partition, r.timestamp_ms, r.key, r.value, r.headers) for r in archived) == (
        sorted(FIRST, key=lambda s: (s[0], s[1], s[2] or b"", s[3] or b"", s[4]))
    )
    for name, count in DAYS.items():
        day = name.removesuffix(".jsonl.gz")
        assert sum(1 for r in archived if r.day == day) == count
    sizes = {p.name: p.stat().st_size for p in folder.glob("*.jsonl.gz")}

    # a second run finds nothing new: no file grows, nothing is read twice
    run_archive(env, topic, out)
    assert {p.name: p.stat().st_size for p in folder.glob("*.jsonl.gz")} == sizes
    assert list(read_archive(out, topic)) == archived

    # new records: only they are appended, to the days they belong to
    more: list[Sent] = [
        (1, ms(2024, 3, 2, 18), b"b1", b"late on day two", ()),
        (0, ms(2024, 3, 3, 9), b"b2", b"\xfe day three again", ()),
    ]
    send(bootstrap, topic, more)
    run_archive(env, topic, out)
    after = list(read_archive(out, topic))
    assert len(after) == len(FIRST) + 2
    assert len({(r.partition, r.offset) for r in after}) == len(after)
    assert {(r.key, r.value) for r in after} - {(r.key, r.value) for r in archived} == {
        (b"b1", b"late on day two"), (b"b2", b"\xfe day three again"),
    }
    new_sizes = {p.name: p.stat().st_size for p in folder.glob("*.jsonl.gz")}
    assert new_sizes["2024-03-01.jsonl.gz"] == sizes["2024-03-01.jsonl.gz"]
    assert new_sizes["2024-03-02.jsonl.gz"] > sizes["2024-03-02.jsonl.gz"]
    assert new_sizes["2024-03-03.jsonl.gz"] > sizes["2024-03-03.jsonl.gz"]
    day_two = list(read_archive(out, topic, datetime(2024, 3, 2, tzinfo=UTC),
                                datetime(2024, 3, 3, tzinfo=UTC)))
    assert sorted(r.key or b"" for r in day_two) == [b"\x00\xffkey", b"a2", b"b1"]


def test_archive_follows_the_topic_until_stopped(
    kafka_broker: BrokerEndpoint, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap
    topic = f"it-follow-{uuid.uuid4().hex[:6]}.articles"
    settings = Settings(broker=f"kafka://{bootstrap}")
    ensure_topics(settings, [TopicSpec(topic, 2)])
    send(bootstrap, topic, [(0, ms(2024, 5, 1), b"old", b"before the start", ())])
    out = tmp_path / "archive"
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            archive_topic(settings, topic, out, stop=stop, flush_seconds=0.2)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        send(bootstrap, topic, [(1, ms(2024, 5, 2), b"new", b"\xff while it runs", ())])
        deadline = time.monotonic() + 60
        got: list[ArchivedRecord] = []
        while time.monotonic() < deadline and len(got) < 2 and not errors:
            if (out / topic / STATE_FILE).exists():
                got = list(read_archive(out, topic))
            stop.wait(0.1)  # bounded polling of the archive a second thread writes
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert not thread.is_alive()
    assert sorted((r.key, r.value) for r in got) == [
        (b"new", b"\xff while it runs"), (b"old", b"before the start"),
    ]
