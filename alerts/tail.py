"""Follow alert topics with a plain Kafka consumer (kafka-python), as any subscriber would."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.settings import Settings

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """'90s', '15m', '2h', '7d', '1w' → a timedelta; anything else is a clear error."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"--since wants a duration like 30m, 2h or 7d, not {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def follow_alerts(
    settings: Settings,
    topic: str,
    from_beginning: bool = True,
    idle_timeout: float | None = None,
    deadline: float | None = None,
    alive: Callable[[], bool] | None = None,
    since: timedelta | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield alerts as they arrive; stops at the deadline, after idle_timeout, or when !alive().

    The consumer assigns every partition itself (no group), then seeks: to the first record
    newer than ``since`` (offsets_for_times), to the beginning, or to the end.
    """
    consumer = KafkaConsumer(
        enable_auto_commit=False, group_id=None, **settings.kafka_python_config()
    )
    last = time.monotonic()
    try:
        tps: list[TopicPartition] = []
        while not tps:
            parts = consumer.partitions_for_topic(topic)
            tps = [TopicPartition(topic, p) for p in sorted(parts or [])]
            if not tps:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                time.sleep(0.5)  # the topic does not exist yet: wait for it to be created
        consumer.assign(tps)
        if since is not None:
            stamp = int((time.time() - since.total_seconds()) * 1000)
            found = consumer.offsets_for_times({tp: stamp for tp in tps})
            ends = consumer.end_offsets(tps)
            for tp in tps:
                hit = found.get(tp)
                consumer.seek(tp, hit.offset if hit is not None else ends[tp])
        elif from_beginning:
            consumer.seek_to_beginning(*tps)
        else:
            consumer.seek_to_end(*tps)
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if idle_timeout is not None and now - last >= idle_timeout:
                return
            if alive is not None and not alive():
                return
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
                    last = time.monotonic()
                    try:
                        yield json.loads(rec.value)
                    except ValueError:
                        continue
    finally:
        consumer.close()
