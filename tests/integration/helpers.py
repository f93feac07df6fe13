"""Helpers for tests on the real broker: a worker process, an independent consumer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from streams.broker import free_port, stop_process


def worker_env(bootstrap: str, prefix: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment of a worker isolated by topic prefix and consumer group."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOMON_")}
    env.update({
        "GEOMON_BROKER": f"kafka://{bootstrap}",
        "GEOMON_TOPIC_PREFIX": prefix,
        "GEOMON_APP_ID": f"{prefix}-app",
        "GEOMON_WEB_PORT": str(free_port()),
        "GEOMON_DATA_DIR": str(data_dir),
        "GEOMON_SESSION_TIMEOUT": "6",
        "GEOMON_LOG_LEVEL": "info",
    })
    if "GEOMON_CACHE_DIR" in os.environ:
        env["GEOMON_CACHE_DIR"] = os.environ["GEOMON_CACHE_DIR"]
    env.update(extra)
    return env


@contextmanager
def running_worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`geomon worker` as a real process; stopped with SIGTERM (SIGKILL if it hangs)."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            stop_process(proc)


def produce(bootstrap: str, topic: str, values: list[bytes], key: bytes | None = None) -> None:
    """Send raw values and wait for every acknowledgement."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for v in values:
            producer.send(topic, key=key, value=v)
        producer.flush()
    finally:
        producer.close()


def consume_until(
    bootstrap: str, topic: str, done: Callable[[list[Any]], bool], timeout: float = 120.0,
    alive: Callable[[], bool] | None = None,
) -> list[Any]:
    """Read a topic from the start with an independent client until done(records) or timeout."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False,
        session_timeout_ms=6000, heartbeat_interval_ms=1000,
        # a topic the worker creates with its first record (alerts.<PAIR>) may not exist yet:
        # refresh metadata every second, not every five minutes, so it is seen once it does
        metadata_max_age_ms=1000,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(records):
            if alive is not None and not alive():
                raise AssertionError("the worker died")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def alert_values(records: list[Any]) -> list[dict[str, Any]]:
    """Decoded alert JSON values."""
    return [json.loads(r.value) for r in records]


def private_articles_topic(
    bootstrap: str, label: str, data_dir: Path, partitions: int = 3
) -> tuple[str, dict[str, str]]:
    """A created `<unique prefix>.articles` topic and the CLI environment that writes to it."""
    from streams.settings import Settings
    from streams.topics import TopicSpec, ensure_topics

    prefix = f"it-{label}-{uuid.uuid4().hex[:6]}"
    topic = f"{prefix}.articles"
    ensure_topics(Settings(broker=f"kafka://{bootstrap}"), [TopicSpec(topic, partitions)])
    return topic, worker_env(bootstrap, prefix, data_dir)
