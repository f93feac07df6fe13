"""Scale-out benchmark: ``python bench/bench_scaleout.py [--n N]``.

One embedded Apache Kafka; the same N articles (generated from samples/articles) go through
one ``geomon worker``, then through two workers (same app id, so one consumer group; their own
web ports and data dirs), each time on a fresh topic prefix with 8 articles partitions and the
project's watch list. Before anything is timed the group must be Stable with every worker in
it and the workers must have coded a warm-up batch spread over all partitions (the coder loads
on first use). Then the N articles are sent at once, and the time runs until the group has
committed the end offsets of the articles, articles.clean and events topics (Faust commits
every 2.8 s: that is the resolution of both times).

``ratio`` = one worker's time / two workers' time: how many times faster two are. The
machine's core count is in the output: two workers cannot be faster than the cores they get.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from _common import (
    Progress,
    articles,
    bench_env,
    cpu_seconds,
    create_topics,
    emit,
    encode,
    kafka_broker,
    log,
    machine,
    samples,
    wait_group,
)

from tests.integration.helpers import produce, running_worker

WARMUP = 64  # enough distinct ids that every articles.clean partition gets some


def run(
    bootstrap: str, workers: int, bases: list[dict[str, Any]], n: int, tmp: Path
) -> dict[str, float]:
    """Seconds for *workers* warm workers to process n articles, and their CPU seconds."""
    prefix = f"bench-scale{workers}-{uuid.uuid4().hex[:6]}"
    envs = [bench_env(bootstrap, prefix, tmp / f"{prefix}-data{i}") for i in range(workers)]
    group, topic = envs[0]["GEOMON_APP_ID"], f"{prefix}.articles"
    create_topics(envs[0])
    values = [encode(a) for a in articles(bases, WARMUP, n)]
    with ExitStack() as stack:
        procs = [
            stack.enter_context(running_worker(env, tmp / f"{prefix}-worker{i}.log"))
            for i, env in enumerate(envs)
        ]

        def alive() -> bool:
            return all(p.poll() is None for p in procs)

        started = time.monotonic()
        wait_group(bootstrap, group, workers)
        progress = stack.enter_context(closing(Progress(bootstrap, prefix, group)))
        produce(bootstrap, topic, [encode(a) for a in articles(bases, 0, WARMUP)])
        progress.wait(lambda s: s["done"] and s["committed"][topic] == WARMUP, 300, alive, "warm")
        wait_group(bootstrap, group, workers)
        log(f"{workers} worker(s) up and warm after {time.monotonic() - started:.1f} s")

        cpu0 = sum(cpu_seconds(p.pid) for p in procs)
        t0 = time.monotonic()
        produce(bootstrap, topic, values)
        last = progress.wait(
            lambda s: s["done"] and s["committed"][topic] == WARMUP + n,
            1800,
            alive,
            f"{workers} worker(s)",
        )
        seconds = last["at"] - t0
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
        log(f"{workers} worker(s): {n} articles in {seconds:.1f} s ({n / seconds:.1f}/s)")
        return {"seconds": seconds, "cpu_s": cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="articles for each run")
    args = ap.parse_args()
    bases = [a for _, a in samples()]
    with tempfile.TemporaryDirectory(prefix="geomon-bench-") as tmp, kafka_broker() as broker:
        one = run(broker.bootstrap, 1, bases, args.n, Path(tmp))
        two = run(broker.bootstrap, 2, bases, args.n, Path(tmp))
    emit(
        {
            "one_worker_s": round(one["seconds"], 2),
            "two_workers_s": round(two["seconds"], 2),
            "ratio": round(one["seconds"] / two["seconds"], 3),
            "n": args.n,
            "one_worker_per_s": round(args.n / one["seconds"], 1),
            "two_workers_per_s": round(args.n / two["seconds"], 1),
            "one_worker_cpu_s": round(one["cpu_s"], 2),
            "two_workers_cpu_s": round(two["cpu_s"], 2),
            "cores": machine()["cpu_count"],
        }
    )


if __name__ == "__main__":
    main()
