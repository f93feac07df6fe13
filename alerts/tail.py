"""Follow alert topics with a plain Kafka consumer (kafka-python), as any subscriber would."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from kafka import KafkaConsumer

from streams.settings import Settings


def follow_alerts(
    settings: Settings,
    topic: str,
    from_beginning: bool = True,
    idle_timeout: float | None = None,
    deadline: float | None = None,
    alive: Callable[[], bool] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield alerts as they arrive; stops at the deadline, after idle_timeout, or when !alive()."""
    consumer = KafkaConsumer(
        topic,
        group_id=f"geomon-tail-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        session_timeout_ms=int(settings.session_timeout * 1000),
        heartbeat_interval_ms=1000,
        **settings.kafka_python_config(),
    )
    last = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if idle_timeout is not None and now - last >= idle_timeout:
                return
            if alive is not None and not alive():
                return
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for rec in records:
                    last = time.monotonic()
                    try:
                        yield json.loads(rec.value)
                    except ValueError:
                        continue
    finally:
        consumer.close()
