"""The ledger of alerts already on the alerts topic, read back from the topic itself.

Faust gives at-least-once processing (its exactly-once mode stalls here and is broken
upstream), so after a crash a worker re-processes the events since its last commit. The
alert agent sends an alert, waits for the broker's ack, and only then records it in its
tables; a crash in between would send it again on re-processing. To prevent that, every worker
follows the alerts topic with a plain consumer (all partitions, no group, from ``lookback``
ago) and skips any (alert_id, version) that is already there. The agent waits until the
follower has caught up with the end offsets seen at start before it handles its first event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.settings import Settings

log = logging.getLogger(__name__)

FETCH_MIN_BYTES = 1 << 18
FETCH_WAIT_MS = 500


class SentLedger:
    """Thread-safe set of (alert_id, version) seen on the alerts topic, bounded in size."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self.ready = threading.Event()

    def add(self, alert_id: str, version: int) -> None:
        """Remember one alert version as sent."""
        with self._lock:
            self._seen[(alert_id, version)] = None
            self._seen.move_to_end((alert_id, version))
            while len(self._seen) > self._max:
                self._seen.popitem(last=False)

    def __contains__(self, item: tuple[str, int]) -> bool:
        with self._lock:
            return item in self._seen

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


class LedgerFollower(threading.Thread):
    """Fills a ledger from the alerts topic and keeps following it."""

    def __init__(
        self, settings: Settings, topic: str, ledger: SentLedger, lookback_s: float = 86400.0
    ) -> None:
        super().__init__(name="geomon-alert-ledger", daemon=True)
        self.settings, self.topic, self.ledger, self.lookback_s = (
            settings,
            topic,
            ledger,
            lookback_s,
        )
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the thread to end after its current poll."""
        self._stop.set()

    def run(self) -> None:
        import json

        consumer: Any = None
        try:
            consumer = KafkaConsumer(
                enable_auto_commit=False,
                group_id=None,
                # Batches rather than a fetch per alert: this worker's own alerts are in the
                # ledger as soon as they are acked, so others' may arrive up to FETCH_WAIT late.
                fetch_min_bytes=FETCH_MIN_BYTES,
                fetch_max_wait_ms=FETCH_WAIT_MS,
                **self.settings.kafka_python_config(),
            )
            parts = consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            since = int((time.time() - self.lookback_s) * 1000)
            starts = consumer.offsets_for_times({tp: since for tp in tps}) if tps else {}
            ends = consumer.end_offsets(tps) if tps else {}
            for tp in tps:
                found = starts.get(tp)
                consumer.seek(tp, found.offset if found is not None else ends[tp])
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=500).values():
                    for rec in records:
                        try:
                            doc = json.loads(rec.value)
                            self.ledger.add(str(doc["alert_id"]), int(doc.get("version", 1)))
                        except (ValueError, KeyError, TypeError):
                            continue
                if not self.ledger.ready.is_set() and all(
                    consumer.position(tp) >= ends[tp] for tp in tps
                ):
                    log.info("alert ledger ready: %d alert versions seen", len(self.ledger))
                    self.ledger.ready.set()
        except Exception:  # the ledger must never take the worker down silently
            log.exception("alert ledger follower failed; duplicates after a crash are possible")
            self.ledger.ready.set()
        finally:
            if consumer is not None:
                consumer.close()
