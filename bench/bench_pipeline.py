"""Pipeline benchmark: ``python bench/bench_pipeline.py [--n N] [--rate R] [--seconds S]``.

One embedded Apache Kafka and one ``geomon worker`` process on a private topic prefix; once
the worker is up and has coded a warm-up batch, in the same run:

- throughput (the project's watch list): N articles generated from samples/articles go in at
  once; the rate is taken between two observations of the worker group's committed offsets:
  the first commit of newly coded articles (articles.clean) and the moment the articles,
  articles.clean and events topics are all committed to their end offsets. Faust commits
  every 2.8 s, so both ends carry that granularity, which the window mostly cancels;
- baseline: a raw aiokafka consumer reading the same articles topic end to end;
- latency: the watch list is swapped (hot reload) for one on which every article of a
  positive sample raises an alert, and rate×seconds articles are sent at a fixed rate with
  ``ingested_at`` stamped at send time; an alert's latency is its record timestamp (set by
  the worker as it sends the alert) minus that ingested_at (matched by pair and publication
  time, unique per article).

Prints one JSON object on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    ARTICLE_PARTITIONS,
    Progress,
    article,
    articles,
    bench_config_dir,
    bench_env,
    coder_seconds,
    cpu_seconds,
    create_topics,
    emit,
    encode,
    expected_pairs,
    kafka_broker,
    log,
    machine,
    percentile,
    pinned,
    samples,
    wait_group,
    watch_every_article,
)
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.integration.helpers import produce, running_worker

WARMUP = 36  # articles that load the coder and fill the caches before anything is timed
GAP = 20  # article indices skipped between runs: > 3 days, so no story spans both


def raw_consume(bootstrap: str, topic: str, expected: int) -> dict[str, float]:
    """A plain aiokafka consumer reading *topic* from the beginning: records/s, CPU s."""

    async def run() -> dict[str, float]:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            n = 0
            t0, c0 = time.perf_counter(), time.process_time()
            while n < expected:
                batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
                n += sum(len(b) for b in batches.values())
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            return {"records": n, "seconds": dt, "per_s": n / dt, "cpu_s": cpu}
        finally:
            await consumer.stop()

    return asyncio.run(run())


class AlertCollector(threading.Thread):
    """Reads an alerts topic from its current end on, keeping (receive ms, record)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        # Batched fetches: latency is read from the records' timestamps, not from receipt, and
        # this load generator shares the machine's cores with the broker and the worker.
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            fetch_min_bytes=1 << 16,
            fetch_max_wait_ms=200,
        )
        tps = [TopicPartition(topic, p) for p in self.consumer.partitions_for_topic(topic) or []]
        self.consumer.assign(tps)
        self.consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end offsets now, before anything is sent
            self.consumer.position(tp)
        self.records: list[tuple[float, Any]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                for batch in self.consumer.poll(timeout_ms=100).values():
                    now = time.time() * 1000
                    self.records += [(now, r) for r in batch]
        finally:
            self.consumer.close()


def latency_phase(
    bootstrap: str,
    prefix: str,
    positives: list[tuple[str, dict[str, Any]]],
    start: int,
    rate: float,
    seconds: float,
    alive: Callable[[], bool],
) -> dict[str, Any]:
    """Send rate×seconds articles at a fixed rate; latency of the alert each one raises.

    Each article goes to its pair's articles partition (see ``pinned``). An article whose
    alert has not come when the wait ends counts with the time waited so far, a lower bound:
    ``p99_is_lower_bound`` says when the p99 is one of those.
    """
    pairs = sorted({pair for pair, _ in positives})
    n = int(rate * seconds)
    todo = []
    for k in range(n):
        pair, base = positives[k % len(positives)]
        part = pairs.index(pair) % ARTICLE_PARTITIONS
        todo.append((pair, part, pinned(article(base, start + k), part, ARTICLE_PARTITIONS)))
    collector = AlertCollector(bootstrap, f"{prefix}.alerts")
    collector.start()
    # ingested_at is stamped before send(): the 5 ms a record may wait in a batch is in the latency.
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
    sent: dict[tuple[str, datetime], float] = {}  # (pair, published_at) → ingested_at, ms
    try:
        log(f"latency: {n} articles at {rate:g}/s")
        t0 = time.monotonic()
        for k, (pair, part, art) in enumerate(todo):
            delay = t0 + k / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = datetime.now(UTC)
            art["ingested_at"] = now.isoformat()
            sent[(pair, datetime.fromisoformat(art["published_at"]))] = now.timestamp() * 1000
            producer.send(
                f"{prefix}.articles", key=art["id"].encode(), value=encode(art), partition=part
            )
        producer.flush()
        send_s = time.monotonic() - t0
        deadline = time.monotonic() + max(60.0, 2 * seconds)
        first: dict[tuple[str, datetime], tuple[float, float]] = {}
        read = 0  # records of the collector already looked at
        while time.monotonic() < deadline and alive():
            read = _first_alerts(collector.records, read, sent, first)
            if len(first) >= n:
                break
            time.sleep(0.5)
        stopped_ms = time.time() * 1000
    finally:
        producer.close()
        collector.stopping.set()
        collector.join(timeout=10)
    _first_alerts(collector.records, read, sent, first)
    by_record = [ts - sent[k] for k, (ts, _) in first.items()]
    by_receipt = [rx - sent[k] for k, (_, rx) in first.items()]
    waited = [stopped_ms - ms for k, ms in sent.items() if k not in first]
    every = by_record + waited
    p99 = percentile(every, 99)
    return {
        "sent": n,
        "send_rate_per_s": round(n / send_s, 1),
        "alerts": len(first),
        "missing": len(waited),
        "p50_ms": _round(percentile(every, 50)),
        "p99_ms": _round(p99),
        "p99_is_lower_bound": bool(waited) and p99 is not None and p99 >= min(waited),
        "max_ms": _round(max(every, default=None)),
        "receipt_p50_ms": _round(percentile(by_receipt, 50)),
        "receipt_p99_ms": _round(percentile(by_receipt, 99)),
    }


def _first_alerts(
    records: list[tuple[float, Any]],
    start: int,
    sent: dict[tuple[str, datetime], float],
    out: dict[tuple[str, datetime], tuple[float, float]],
) -> int:
    """Add the records from *start* on to *out*: (record timestamp, receipt) ms of the first
    alert of each sent article's pair. Returns how many records have been looked at."""
    new = records[start:]
    for received_ms, rec in new:
        alert = json.loads(rec.value)
        key = (alert["pair"], datetime.fromisoformat(alert["first_seen"]))
        if alert["version"] == 1 and key in sent and key not in out:
            out[key] = (float(rec.timestamp), received_ms)
    return start + len(new)


def wait_reload(log_path: Path, before: int, timeout: float = 60.0) -> None:
    """Wait for one more "watch list reloaded" line in the worker's log."""
    deadline = time.monotonic() + timeout
    while log_path.read_text(errors="replace").count("watch list reloaded") <= before:
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not reload the watch list")
        time.sleep(0.5)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="articles for the throughput run")
    ap.add_argument("--rate", type=float, default=100.0, help="articles/s for the latency run")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    ap.add_argument("--log-dir", type=Path, help="keep the worker's log here (default: a temp dir)")
    ap.add_argument(
        "--coder-processes", type=int, help="the worker's GEOMON_CODER_PROCESSES (default: its own)"
    )
    args = ap.parse_args()

    everything = samples()
    bases = [a for _, a in everything]
    wanted = expected_pairs()
    positives = [(wanted[name][0], a) for name, a in everything if wanted.get(name)]
    main_input = [encode(a) for a in articles(bases, WARMUP, args.n)]
    with tempfile.TemporaryDirectory(prefix="geomon-bench-") as tmp, kafka_broker() as broker:
        bootstrap = broker.bootstrap
        config = bench_config_dir(Path(tmp))
        prefix = f"bench-pipe-{uuid.uuid4().hex[:6]}"
        env = bench_env(bootstrap, prefix, Path(tmp) / "data", config)
        if args.coder_processes is not None:
            env["GEOMON_CODER_PROCESSES"] = str(args.coder_processes)
        group, topic, clean = env["GEOMON_APP_ID"], f"{prefix}.articles", f"{prefix}.articles.clean"
        # The latency watch list's pair topics too, so the hot reload only has to find them.
        create_topics(env, sorted({pair for pair, _ in positives}))
        log_path = (args.log_dir or Path(tmp)) / f"{prefix}-worker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with running_worker(env, log_path) as proc:

            def alive() -> bool:
                return proc.poll() is None

            started = time.monotonic()
            wait_group(bootstrap, group, 1)
            progress = Progress(bootstrap, prefix, group)
            try:
                produce(bootstrap, topic, [encode(a) for a in articles(bases, 0, WARMUP)])
                progress.wait(
                    lambda s: s["done"] and s["committed"][topic] == WARMUP, 300, alive, "warm-up"
                )
                log(f"worker up and warm after {time.monotonic() - started:.1f} s")

                # Throughput, default watch list: from the first commit of newly coded articles
                # to every stage committed to its end.
                cpu0 = cpu_seconds(proc.pid)
                coder0, coded0 = coder_seconds(env["GEOMON_WEB_PORT"])
                t_produce = time.monotonic()
                produce(bootstrap, topic, main_input)
                log(f"{args.n} articles produced in {time.monotonic() - t_produce:.1f} s")
                first = progress.wait(
                    lambda s: s["committed"][clean] > WARMUP, 600, alive, "first commit"
                )
                last = progress.wait(
                    lambda s: s["done"] and s["committed"][clean] == WARMUP + args.n,
                    1800,
                    alive,
                    "throughput",
                )
                cpu = cpu_seconds(proc.pid) - cpu0
                coder_s, coded = coder_seconds(env["GEOMON_WEB_PORT"])
                coder_s, coded = coder_s - coder0, coded - coded0
                window = last["at"] - first["at"]
                per_s = (last["committed"][clean] - first["committed"][clean]) / window
                log(f"worker: {per_s:.1f} articles/s")

                raw = raw_consume(bootstrap, topic, WARMUP + args.n)
                log(f"raw aiokafka consumer: {raw['per_s']:.0f} records/s")

                # Latency, a watch list on which every article raises an alert.
                reloads = log_path.read_text(errors="replace").count("watch list reloaded")
                watch_every_article(config, [pair for pair, _ in positives])
                wait_reload(log_path, reloads)
                cpu0, t_lat = cpu_seconds(proc.pid), time.monotonic()
                lat = latency_phase(
                    bootstrap,
                    prefix,
                    positives,
                    WARMUP + args.n + GAP,
                    args.rate,
                    args.seconds,
                    alive,
                )
                lat["worker_cpu_s"] = round(cpu_seconds(proc.pid) - cpu0, 2)
                lat["wall_s"] = round(time.monotonic() - t_lat, 2)
                log(f"latency: {lat}")
                if lat["missing"]:
                    tail = log_path.read_text(errors="replace").splitlines()[-30:]
                    log("alerts missing; the worker's log ends:\n" + "\n".join(tail))
            finally:
                progress.close()
            if not alive():
                raise RuntimeError(f"the worker died:\n{log_path.read_text()[-3000:]}")
    emit(
        {
            "articles_per_s": round(per_s, 1),
            "raw_consume_per_s": round(raw["per_s"], 1),
            "ratio_to_raw": round(per_s / raw["per_s"], 4),
            "latency_p50_ms": lat["p50_ms"],
            "latency_p99_ms": lat["p99_ms"],
            "n": args.n,
            "mean_article_bytes": round(sum(map(len, main_input)) / len(main_input)),
            "throughput_window_s": round(window, 2),
            "seconds_from_first_send": round(last["at"] - t_produce, 2),
            "worker_cpu_s": round(cpu, 2),
            "articles_per_worker_cpu_s": round(args.n / cpu, 1) if cpu else None,
            "coder_share_of_worker_cpu": round(coder_s / cpu, 3) if cpu else None,
            "coder_ms_per_article": round(1000 * coder_s / coded, 2) if coded else None,
            "raw_consume": {k: round(v, 3) for k, v in raw.items()},
            "latency": {"rate_per_s": args.rate, "seconds": args.seconds, **lat},
            "cores": machine()["cpu_count"],
        }
    )


if __name__ == "__main__":
    main()
