"""What the broker benchmarks share: a broker, the input, a worker's progress, the JSON out.

The input is generated from the project's own samples (samples/articles): each generated
article is a sample with its own id, title, URL and publication time, so every one is a
distinct story. Publication times are ``SPACING`` (8 h) apart: two copies of one sample are
then outside the story window (3 days), and with the latency watch list (first_activity with a
0.1-day quiet period) every article of a watched pair raises a new alert.

Worker processes and the acknowledged producer are the integration tests' own helpers
(tests/integration/helpers.py), so a benchmark runs the worker exactly as the tests do.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from kafka import KafkaConsumer, TopicPartition  # noqa: E402
from kafka.admin import KafkaAdminClient  # noqa: E402
from kafka.errors import KafkaError  # noqa: E402

from streams.broker import EmbeddedBroker  # noqa: E402
from streams.settings import Settings  # noqa: E402
from tests.integration.helpers import worker_env  # noqa: E402

SAMPLES = ROOT / "samples" / "articles"
BASE_TIME = datetime(2010, 1, 1, tzinfo=UTC)
SPACING = timedelta(hours=8)
QUIET_DAYS = 0.1  # < SPACING: the next article of a pair is always "after a quiet period"
#: The topics whose committed offsets say the worker has processed everything.
STAGES = ("articles", "articles.clean", "events")
ARTICLE_PARTITIONS = 8


def log(msg: str) -> None:
    """A progress line on stderr (stdout carries only the result)."""
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} {msg}\n")
    sys.stderr.flush()


def emit(result: dict[str, Any]) -> None:
    """The benchmark's one JSON object on stdout."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@dataclass(frozen=True)
class ExistingBroker:
    """A broker someone else runs (``GEOMON_BENCH_BROKER=host:port``, for trying things out)."""

    bootstrap: str


@contextmanager
def kafka_broker() -> Iterator[EmbeddedBroker | ExistingBroker]:
    """One embedded Apache Kafka on a free port, stopped whatever happens."""
    if os.environ.get("GEOMON_BENCH_BROKER"):
        yield ExistingBroker(os.environ["GEOMON_BENCH_BROKER"])
        return
    broker = EmbeddedBroker(kind="kafka")
    log("starting the embedded Kafka broker …")
    broker.start()
    try:
        log(f"broker at {broker.bootstrap}")
        yield broker
    finally:
        broker.stop()


# --------------------------------------------------------------------------- input


def samples() -> list[tuple[str, dict[str, Any]]]:
    """(file name, article dict) for every sample; a .txt file's first line is its title."""
    out = []
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix == ".json":
            art = json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".txt":
            text = path.read_text(encoding="utf-8")
            art = {"title": text.strip().splitlines()[0], "text": text}
        else:
            continue
        art.setdefault("id", path.stem)
        out.append((path.name, art))
    return out


def expected_pairs() -> dict[str, list[str]]:
    """The pairs samples/expected.yaml says each sample is about (negatives: none)."""
    data = yaml.safe_load((ROOT / "samples" / "expected.yaml").read_text(encoding="utf-8"))
    return {name: list(entry.get("pairs") or []) for name, entry in data.items()}


def article(base: dict[str, Any], i: int) -> dict[str, Any]:
    """The i-th generated article: a distinct story made from one sample."""
    art = {k: v for k, v in base.items() if k != "ingested_at"}
    art["id"] = f"bench-{i:06d}-{base['id']}"
    art["title"] = f"{base.get('title') or base['id']} ({i})"
    art["published_at"] = (BASE_TIME + i * SPACING).isoformat()
    if base.get("url"):
        art["url"] = f"{base['url'].rstrip('/')}/bench-{i}"
    return art


def articles(bases: list[dict[str, Any]], start: int, n: int) -> list[dict[str, Any]]:
    """Articles start … start+n-1, cycling through the bases."""
    return [article(bases[i % len(bases)], i) for i in range(start, start + n)]


def encode(art: dict[str, Any]) -> bytes:
    """The wire form geomon ingest would send."""
    return json.dumps(art, ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------- workers


def bench_config_dir(tmp: Path) -> Path:
    """configs/ as links, but a watch list of its own (a copy) that a benchmark may replace."""
    cfg = tmp / "configs"
    cfg.mkdir()
    for item in (ROOT / "configs").iterdir():
        if item.name != "watchlist.yaml":
            (cfg / item.name).symlink_to(item)
    shutil.copyfile(ROOT / "configs" / "watchlist.yaml", cfg / "watchlist.yaml")
    return cfg


def watch_every_article(config_dir: Path, pairs: list[str]) -> None:
    """Replace the watch list: *pairs*, only first_activity (quiet 0.1 day), any confidence.

    With articles ``SPACING`` apart, every article of a watched pair then raises a new alert.
    A running worker picks the file up within ``GEOMON_WATCHLIST_RELOAD`` seconds.
    """
    watchlist = {
        "defaults": {
            "min_confidence": 0.0,
            "severity": "medium",
            "rules": {
                "first_activity": {"quiet_days": QUIET_DAYS},
                "new_event_type": None,
                "surge": None,
                "escalation": None,
            },
        },
        "pairs": [{"pair": p} for p in sorted(set(pairs))],
    }
    tmp = config_dir / "watchlist.yaml.new"
    tmp.write_text(yaml.safe_dump(watchlist), encoding="utf-8")
    os.replace(tmp, config_dir / "watchlist.yaml")


def pinned(art: dict[str, Any], partition: int, partitions: int) -> dict[str, Any]:
    """*art* with an id that sends its clean copy to *partition* as well.

    Kafka orders records within a partition only, and the clean topic is keyed by article id:
    articles of one pair sent to one articles partition with ids hashed to the same clean
    partition reach the alert agent in the order sent, so none is judged "before" the last.
    """
    from aiokafka.partitioner import DefaultPartitioner  # the partitioner Faust sends with

    choose = DefaultPartitioner()
    every = list(range(partitions))
    base, k = art["id"], 0
    while choose(art["id"].encode(), every, every) != partition:
        k += 1
        art["id"] = f"{base}~{k}"
    return art


def bench_env(
    bootstrap: str, prefix: str, data_dir: Path, config_dir: Path | None = None
) -> dict[str, str]:
    """A worker's environment: the tests' one, with default timeouts (and given configs)."""
    extra = {"GEOMON_CONFIG_DIR": str(config_dir)} if config_dir else {}
    return worker_env(
        bootstrap,
        prefix,
        data_dir,
        GEOMON_SESSION_TIMEOUT="10",
        GEOMON_ARTICLE_PARTITIONS=str(ARTICLE_PARTITIONS),
        **extra,
    )


def create_topics(env: dict[str, str], more_pairs: list[str] | None = None) -> None:
    """Every topic a worker with this environment uses (and *more_pairs*' alert topics)."""
    from streams.cli import prepare_topics
    from streams.topics import TopicSpec, ensure_topics, pair_alert_topic

    settings = Settings(
        broker=env["GEOMON_BROKER"],
        topic_prefix=env["GEOMON_TOPIC_PREFIX"],
        config_dir=Path(env.get("GEOMON_CONFIG_DIR") or ROOT / "configs"),
        article_partitions=int(env["GEOMON_ARTICLE_PARTITIONS"]),
    )
    prepare_topics(settings)
    if more_pairs:
        ensure_topics(settings, [TopicSpec(pair_alert_topic(settings, p), 1) for p in more_pairs])


class Progress:
    """How far a worker group is: its committed offsets against the stages' end offsets."""

    def __init__(self, bootstrap: str, prefix: str, group: str) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        self.tps = []
        for stage in STAGES:
            topic = f"{prefix}.{stage}"
            parts = self.consumer.partitions_for_topic(topic)
            if not parts:
                raise RuntimeError(f"topic {topic} does not exist")
            self.tps += [TopicPartition(topic, p) for p in sorted(parts)]
        self.articles = f"{prefix}.articles"

    def snapshot(self) -> dict[str, Any]:
        """Committed and end offsets summed per topic, and whether every stage is done."""
        ends = self.consumer.end_offsets(self.tps)
        committed: dict[str, int] = {}
        end: dict[str, int] = {}
        behind = 0
        for tp in self.tps:
            c = self.consumer.committed(tp) or 0
            committed[tp.topic] = committed.get(tp.topic, 0) + c
            end[tp.topic] = end.get(tp.topic, 0) + ends[tp]
            behind += max(0, ends[tp] - c)
        return {"committed": committed, "end": end, "done": behind == 0, "at": time.monotonic()}

    def wait(
        self,
        until: Callable[[dict[str, Any]], bool],
        timeout: float,
        alive: Callable[[], bool],
        what: str,
        every: float = 0.2,
    ) -> dict[str, Any]:
        """Poll until *until(snapshot)*; an error on timeout or when a worker dies."""
        deadline = time.monotonic() + timeout
        last_log = 0.0
        while True:
            snap = self.snapshot()
            if until(snap):
                return snap
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"{what}: not reached in {timeout:.0f} s ({snap})")
            if not alive():
                raise RuntimeError(f"{what}: a worker exited")
            if now - last_log > 10:
                last_log = now
                log(f"{what}: committed {snap['committed']} of {snap['end']}")
            time.sleep(every)

    def close(self) -> None:
        """Leave no client behind."""
        self.consumer.close()


def wait_group(bootstrap: str, group: str, members: int, timeout: float = 180.0) -> None:
    """Wait until the consumer group is Stable with *members* members (rebalancing done)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                info = admin.describe_groups([group]).get(group) or {}
            except KafkaError:  # no coordinator yet: the offsets topic is being created
                info = {}
            state = info.get("group_state")
            n = len(info.get("members") or [])
            if state == "Stable" and n == members:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {group}: {state} with {n} members, want {members}")
            time.sleep(0.5)
    finally:
        admin.close()


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0 … 100) of *values*; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its live descendants (the worker's coder
    processes) have used so far (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = _stat(p)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        todo += children.get(p, [])
    return total / os.sysconf("SC_CLK_TCK")


def coder_seconds(web_port: str) -> tuple[float, int]:
    """(seconds, articles) of the worker's geomon_coder_seconds histogram, from /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    total, count = 0.0, 0
    for line in text.splitlines():
        if line.startswith("geomon_coder_seconds_sum"):
            total = float(line.split()[-1])
        elif line.startswith("geomon_coder_seconds_count"):
            count = int(float(line.split()[-1]))
    return total, count
