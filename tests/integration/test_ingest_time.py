"""Record time on the real broker: `geomon ingest` stamps each record with its published_at.

Why it matters: a backfill of old articles must land at the right place in time, because replay
seeks and filters by record timestamp. Without a usable published_at the record gets the time
it was ingested.
"""

from __future__ import annotations

import calendar
import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streams.ingest import record_timestamp_ms
from tests.integration.conftest import BrokerEndpoint
from tests.integration.helpers import consume_until, private_articles_topic

pytestmark = pytest.mark.integration

CREATE_TIME = 0


def test_record_timestamp_ms_is_exact_to_the_millisecond() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(6)
    for _ in range(20_000):
        ms = rng.randrange(0, 1_700_000_000_000)  # 1970 to 2023
        assert record_timestamp_ms(epoch + timedelta(milliseconds=ms)) == ms
    # float arithmetic gets this one wrong by a millisecond
    trap = datetime(1978, 7, 26, 6, 14, 12, 831000, tzinfo=UTC)
    assert int(trap.timestamp() * 1000) == 270281652830
    assert record_timestamp_ms(trap) == calendar.timegm(trap.timetuple()) * 1000 + 831
    assert record_timestamp_ms(datetime(2024, 4, 12, 9, 30, tzinfo=UTC)) == 1712914200000
    assert record_timestamp_ms(datetime(2024, 4, 12, 9, 30)) is None  # no zone: ambiguous
    assert record_timestamp_ms(datetime(1969, 12, 31, tzinfo=UTC)) is None  # Kafka refuses it
    assert record_timestamp_ms(None) is None
    assert record_timestamp_ms(datetime.now(UTC) + timedelta(hours=2)) is None  # a wrong clock


def test_ingest_stamps_records_with_published_at(
    kafka_broker: BrokerEndpoint, tmp_path: Path
) -> None:
    topic, env = private_articles_topic(kafka_broker.bootstrap, "time", tmp_path / "data")

    dated = {
        "offset": ("2024-04-12T09:30:00+02:00", datetime(2024, 4, 12, 7, 30, tzinfo=UTC)),
        "zulu-ms": ("2023-11-05T23:59:59.123Z", datetime(2023, 11, 5, 23, 59, 59, 123000, UTC)),
        "float-trap": ("1978-07-26T06:14:12.831Z", datetime(1978, 7, 26, 6, 14, 12, 831000, UTC)),
    }
    undated = {
        "missing": None,
        "naive": "2024-04-12T09:30:00",
        "garbage": "yesterday",
        "future": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
    }
    lines = [
        {"id": k, "text": f"Article {k}.", "published_at": iso} for k, (iso, _) in dated.items()
    ]
    for k, iso in undated.items():
        lines.append({"id": k, "text": f"Article {k}."} | ({"published_at": iso} if iso else {}))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "batch.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (folder / "plain.txt").write_text("A plain text article without any date.\n")

    before = int(time.time() * 1000)
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "ingest", str(folder)],
        env=env, check=True, capture_output=True, timeout=120,
    )
    after = int(time.time() * 1000)

    records = consume_until(kafka_broker.bootstrap, topic, lambda r: len(r) >= 8, timeout=60)
    assert len(records) == 8
    by_key = {r.key.decode() if r.key else "<text>": r for r in records}
    assert set(by_key) == {*dated, *undated, "<text>"}
    for key, (_, when) in dated.items():
        rec = by_key[key]
        assert rec.timestamp_type == CREATE_TIME
        assert rec.timestamp == record_timestamp_ms(when), key
        value = json.loads(rec.value)
        assert value["published_at"] == dated[key][0]
        assert value["ingested_at"]
    for key in [*undated, "<text>"]:
        rec = by_key[key]
        assert rec.timestamp_type == CREATE_TIME
        assert before <= rec.timestamp <= after, key
