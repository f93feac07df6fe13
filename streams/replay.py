"""Replay a time range of articles through today's coder and rules, into a run's own topics.

Why: "what would the new watch list (or lexicons) have told us last month?" A replay reads the
range from the articles topic or from files, runs the code the live agents run (``normalize`` →
``Coder.code`` → ``alerts.engine.process_event``) and writes ``<prefix>.replay.<run>.events``
and ``<prefix>.replay.<run>.alerts``, never the live topics.

Determinism: records are processed in record-timestamp order (ties by topic, partition,
offset), and the record time stands in for the wall clock (``coded_at`` of events,
``created_at`` of alerts, the output records' timestamps), so two replays of one range with the
same configs give byte-identical events and the same alert ids.

Isolation: the reader assigns partitions itself (``group_id=None``, nothing committed), the
writer only writes the run's topics, and bad input is counted in the summary instead of going
to the live DLQ. Live workers and any number of replays therefore run at once.

The module is a pure core (``order_records``, ``in_range``, ``Replayer``, ``diff_alerts``)
and thin I/O (``read_topic``, ``read_files``, ``run_replay``, ``read_run_alerts``).
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alerts.engine import process_event
from alerts.rules import PairState
from alerts.stories import Cluster
from alerts.watchlist import Watchlist
from streams.archive import (
    LOCK_FILE,
    STATE_FILE,
    SUFFIX,
    ArchivedRecord,
    ArchiveError,
    assign_all,
    read_archive,
)
from streams.coding import CODER_VERSION
from streams.coding.coder import Coder
from streams.ingest import SUFFIXES, expand, read_path
from streams.normalize import Rejection, normalize
from streams.records import Alert, CodedEvent, dump_json
from streams.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger(__name__)

REPLAY = "replay"
RUN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
CODER_ERROR = "coder_error"

Tick = Callable[[int], None]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ReplayError(Exception):
    """A replay cannot start: bad range, unknown topic, a run that already has records."""


# ---------------------------------------------------------------------------------------------
# Pure core


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time; without a zone it is UTC (a range bound, not a publication)."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReplayError(f"not an ISO 8601 time: {text!r}") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def to_ms(when: datetime) -> int:
    """Milliseconds since the epoch, in integers (float timestamps lose a millisecond)."""
    return (when - _EPOCH) // timedelta(milliseconds=1)


def in_range(timestamp_ms: int, start_ms: int, end_ms: int) -> bool:
    """The range is half-open, [from, to), so consecutive windows never share a record."""
    return start_ms <= timestamp_ms < end_ms


def order_key(rec: ArchivedRecord) -> tuple[int, str, int, int]:
    """Record time first; ties broken by coordinates, so the order never depends on arrival."""
    return (rec.timestamp_ms, rec.topic, rec.partition, rec.offset)


def order_records(
    records: Iterable[ArchivedRecord], start_ms: int, end_ms: int
) -> list[ArchivedRecord]:
    """The records inside the range, in replay order."""
    return sorted((r for r in records if in_range(r.timestamp_ms, start_ms, end_ms)), key=order_key)


def topic_name(settings: Settings, run: str, kind: str) -> str:
    """``<prefix>.replay.<run>.<kind>``: a namespace no live topic lives in."""
    return settings.topic(f"{REPLAY}.{run}.{kind}")


def check_run_name(run: str) -> str:
    """Run names become topic names: letters, digits, '-' and '_' only (no '.', no clash)."""
    if not RUN_NAME.match(run):
        raise ReplayError(f"run name {run!r}: use 1-80 letters, digits, '-' or '_'")
    return run


def config_fingerprint(config_dir: Path, watchlist: Path) -> str:
    """A hash of the configs that decide a replay's output (lexicons, actors, watch list)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(CODER_VERSION.encode())
    files = sorted(
        p
        for p in config_dir.rglob("*")
        if p.is_file() and "schemas" not in p.relative_to(config_dir).parts
    )
    for p in [*files, watchlist]:
        h.update(
            str(p.relative_to(config_dir) if p.is_relative_to(config_dir) else p.name).encode()
        )
        h.update(p.read_bytes())
    return h.hexdigest()


def default_run_name(start: datetime, end: datetime, source: str, fingerprint: str) -> str:
    """Range plus a short hash of source and configs: the same replay gets the same name."""
    digest = hashlib.blake2b(f"{source}\x1f{fingerprint}".encode(), digest_size=3).hexdigest()
    fmt = "%Y%m%dT%H%M%SZ"
    return f"{start.astimezone(UTC):{fmt}}-{end.astimezone(UTC):{fmt}}-{digest}"


@dataclass
class Step:
    """What one record became: events and alerts to write, or why it was rejected."""

    events: list[CodedEvent] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    rejected: str | None = None


@dataclass
class ReplaySummary:
    """Counts a replay prints (and returns with ``--json``)."""

    run: str
    articles: int = 0
    events: int = 0
    dlq: Counter[str] = field(default_factory=Counter)
    alert_ids: dict[str, str] = field(default_factory=dict)  # alert id → pair
    alert_versions: int = 0

    def add(self, step: Step) -> None:
        """Count one processed record."""
        if step.rejected is not None:
            self.dlq[step.rejected] += 1
            return
        self.articles += 1
        self.events += len(step.events)
        self.alert_versions += len(step.alerts)
        for a in step.alerts:
            self.alert_ids[a.alert_id] = a.pair

    @property
    def alerts_by_pair(self) -> dict[str, int]:
        """Distinct alerts per pair."""
        return dict(sorted(Counter(self.alert_ids.values()).items()))

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        return {
            "run": self.run,
            "articles": self.articles,
            "events": self.events,
            "alerts": len(self.alert_ids),
            "alerts_by_pair": self.alerts_by_pair,
            "dlq": sum(self.dlq.values()),
        }


class Replayer:
    """The live pipeline's logic with in-memory per-pair state, one record at a time."""

    def __init__(self, coder: Coder, watchlist: Watchlist, max_article_bytes: int) -> None:
        self.coder = coder
        self.watchlist = watchlist
        self.max_article_bytes = max_article_bytes
        self.pair_state: dict[str, PairState] = {}
        self.stories: dict[str, list[Cluster]] = {}
        self.emitted: dict[str, dict[str, Any]] = {}

    def feed(self, rec: ArchivedRecord) -> Step:
        """Normalize, code and alert one record, at the record's own time."""
        when = rec.timestamp
        if when is None:
            raise ValueError(f"record {rec.topic}:{rec.partition}:{rec.offset} has no timestamp")
        article = normalize(rec.value, self.max_article_bytes)
        if isinstance(article, Rejection):
            return Step(rejected=article.reason.value)
        try:
            events = self.coder.code(article, coded_at=when)
        except Exception:  # as in the live agent: a coder bug is counted, the replay goes on
            log.exception("coder failed on article %s", article.id)
            return Step(rejected=CODER_ERROR)
        step = Step(events=events)
        for ev in events:
            outcome = process_event(
                self.pair_state.get(ev.pair),
                self.stories.get(ev.pair),
                ev,
                self.watchlist.get(ev.pair),
                self.emitted.get,
                now=when,
            )
            for alert in outcome.alerts:
                self.emitted[alert.alert_id] = alert.model_dump(mode="json")
            self.pair_state[ev.pair] = outcome.state
            self.stories[ev.pair] = outcome.clusters
            step.alerts += outcome.alerts
        return step


def replay_records(
    replayer: Replayer,
    records: Iterable[ArchivedRecord],
    start_ms: int,
    end_ms: int,
    summary: ReplaySummary,
) -> Iterator[tuple[ArchivedRecord, Step]]:
    """Every in-range record in replay order with what it became; counts go to the summary."""
    for rec in order_records(records, start_ms, end_ms):
        step = replayer.feed(rec)
        summary.add(step)
        yield rec, step


@dataclass(frozen=True)
class AlertChange:
    """One line of a diff: an alert added, removed or changed between two runs."""

    kind: str  # added | removed | changed
    alert_id: str
    pair: str
    rule: str
    fields: dict[str, tuple[Any, Any]]  # changed fields: (run A's value, run B's value)
    alert: dict[str, Any]  # run B's alert (run A's for a removed one)

    def as_json(self) -> dict[str, Any]:
        """The change as a JSON-able dict."""
        return {
            "kind": self.kind,
            "alert_id": self.alert_id,
            "pair": self.pair,
            "rule": self.rule,
            "severity": self.alert.get("severity"),
            "cameo": self.alert.get("cameo"),
            "summary": self.alert.get("summary"),
            "changed": {k: list(v) for k, v in self.fields.items()},
        }


def latest_alerts(values: Iterable[bytes | None]) -> dict[str, dict[str, Any]]:
    """The highest version of each alert id (later records win a tie); junk is skipped."""
    out: dict[str, dict[str, Any]] = {}
    for raw in values:
        try:
            doc = json.loads(raw) if raw is not None else None
            if not isinstance(doc, dict):
                continue
            alert_id, version = str(doc["alert_id"]), int(doc.get("version", 1))
        except (ValueError, KeyError, TypeError):
            continue
        if alert_id not in out or version >= int(out[alert_id].get("version", 1)):
            out[alert_id] = doc
    return out


def _compared(alert: dict[str, Any]) -> dict[str, Any]:
    """What a diff compares: severity, the rule's numbers and the sources (as a set)."""
    rule = alert.get("rule") or {}
    return {
        "severity": alert.get("severity"),
        "numbers": dict(sorted((rule.get("numbers") or {}).items())),
        "sources": sorted(alert.get("sources") or []),
    }


def diff_alerts(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> list[AlertChange]:
    """Alerts added, removed and changed from run A to run B, sorted by pair, rule, kind, id."""
    changes: list[AlertChange] = []
    for alert_id in a.keys() | b.keys():
        old, new = a.get(alert_id), b.get(alert_id)
        if old is None or new is None:
            doc = new if new is not None else old
            assert doc is not None
            kind, fields = ("added" if old is None else "removed"), {}
        else:
            before, after = _compared(old), _compared(new)
            fields = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
            if not fields:
                continue
            kind, doc = "changed", new
        rule = str((doc.get("rule") or {}).get("name"))
        changes.append(AlertChange(kind, alert_id, str(doc.get("pair")), rule, fields, doc))
    return sorted(changes, key=lambda c: (c.pair, c.rule, c.kind, c.alert_id))


# ---------------------------------------------------------------------------------------------
# I/O


def _consumer(settings: Settings) -> Any:
    """A group-less consumer: it commits nothing and never creates a topic by looking."""
    from kafka import KafkaConsumer

    return KafkaConsumer(
        client_id="geomon-replay",
        group_id=None,
        enable_auto_commit=False,
        allow_auto_create_topics=False,
        **settings.kafka_python_config(),
    )


def read_topic(
    settings: Settings,
    topic: str,
    start_ms: int | None = None,
    end_ms: int | None = None,
    on_total: Tick | None = None,
    on_read: Tick | None = None,
) -> Iterator[ArchivedRecord]:
    """A topic's records from ``start_ms`` (or the beginning) up to its end offsets at start.

    ``offsets_for_times`` finds where ``start_ms`` begins in each partition; after it the log is
    read to the end offsets captured at start, because create-time timestamps are not monotonic
    (a backfill of old articles sits after newer ones), and only a log-append-time partition
    stops at the first record past ``end_ms``. The caller filters by timestamp, which also
    makes a broker with a coarse time lookup exact.
    """
    consumer = _consumer(settings)
    try:
        try:
            tps = assign_all(consumer, topic)
        except ArchiveError as exc:
            raise ReplayError(str(exc)) from exc
        ends: dict[Any, int] = consumer.end_offsets(tps)
        if start_ms is None:
            starts: dict[Any, int] = consumer.beginning_offsets(tps)
        else:
            found = consumer.offsets_for_times({tp: start_ms for tp in tps})
            starts = {tp: found[tp].offset if found.get(tp) else ends[tp] for tp in tps}
        todo = {tp for tp in tps if starts[tp] < ends[tp]}
        if on_total is not None:
            on_total(sum(ends[tp] - starts[tp] for tp in todo))
        for tp in tps:
            consumer.seek(tp, starts[tp])
        consumer.pause(*[tp for tp in tps if tp not in todo])
        while todo:
            for tp, recs in consumer.poll(timeout_ms=500).items():
                if tp not in todo:
                    continue
                for rec in recs:
                    if rec.offset >= ends[tp]:
                        break  # arrived after the replay started
                    if on_read is not None:
                        on_read(1)
                    yield ArchivedRecord.from_consumer(rec)
                    if end_ms is not None and rec.timestamp_type == 1 and rec.timestamp >= end_ms:
                        break  # log-append time only grows: nothing later is in range
                else:
                    if consumer.position(tp) < ends[tp]:
                        continue
                todo.discard(tp)
                consumer.pause(tp)
    finally:
        consumer.close()


def read_files(
    patterns: Iterable[str], start: datetime, end: datetime
) -> tuple[list[ArchivedRecord], int]:
    """Records from archives and plain article files; also how many had no usable time.

    A match that is an archive folder (it holds ``_state.json``) or an archive day file is read
    with ``read_archive`` (committed bytes only, the range's days only); other files and folders
    are read as ``geomon ingest`` reads them, timed by ``published_at``.
    """
    paths: list[Path] = []
    for pattern in patterns:
        hits = sorted(glob.glob(pattern, recursive=True))
        if not hits:
            raise ReplayError(f"no file matches {pattern!r}")
        paths += [Path(h) for h in hits]
    archives: dict[Path, set[str] | None] = {}  # archive folder → day files named (None: all)
    plain: list[str] = []
    for p in paths:
        in_archive = (p.parent / STATE_FILE).exists()
        if p.is_dir() and (p / STATE_FILE).exists():
            archives[p] = None
        elif in_archive and p.name.endswith(SUFFIX):
            days = archives.setdefault(p.parent, set())
            if days is not None:
                days.add(p.name)
        elif in_archive and p.name in (STATE_FILE, LOCK_FILE, STATE_FILE + ".tmp"):
            continue  # the archiver's bookkeeping, matched by a glob such as DIR/*
        elif p.is_dir() or p.suffix in SUFFIXES:
            plain.append(str(p))
        else:
            raise ReplayError(f"{p}: neither an archive (folder or day file) nor an article file")
    records: list[ArchivedRecord] = []
    for folder, days in archives.items():
        for rec in read_archive(folder.parent, folder.name, start, end):
            if days is None or rec.day + SUFFIX in days:
                records.append(rec)
    undated = 0
    for path in expand(plain):
        for n, msg in enumerate(read_path(path, stamp=False)):
            if msg.timestamp_ms is None:
                undated += 1
                continue
            records.append(ArchivedRecord(str(path), 0, n, msg.timestamp_ms, msg.key, msg.value))
    return records, undated


def run_records(settings: Settings, run: str) -> int:
    """How many records a run's topics hold (0 when they do not exist)."""
    from kafka import TopicPartition

    consumer = _consumer(settings)
    try:
        total = 0
        for kind in ("events", "alerts"):
            name = topic_name(settings, run, kind)
            tps = [
                TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or [])
            ]
            if tps:
                ends, begins = consumer.end_offsets(tps), consumer.beginning_offsets(tps)
                total += sum(ends[tp] - begins[tp] for tp in tps)
        return total
    finally:
        consumer.close()


@dataclass
class ReplaySource:
    """Where a replay reads: a topic, or file globs."""

    topic: str | None = None
    files: list[str] | None = None

    def describe(self) -> str:
        """A stable description (part of the default run name)."""
        return f"topic:{self.topic}" if self.topic else "files:" + "|".join(self.files or [])


@dataclass
class ReplayHooks:
    """Progress callbacks of the two phases (read, replay); all optional."""

    read_total: Tick | None = None
    read: Tick | None = None
    replay_total: Tick | None = None
    replayed: Tick | None = None
    note: Callable[[str], None] | None = None


def run_replay(
    settings: Settings,
    source: ReplaySource,
    start: datetime,
    end: datetime,
    run: str,
    coder: Coder | Callable[[], Coder],
    watchlist: Watchlist,
    hooks: ReplayHooks | None = None,
) -> ReplaySummary:
    """Read the range, replay it in order and write the run's events and alerts topics.

    ``coder`` may be a loader, called only once the run is known to be new and the input read
    (loading takes seconds; a refused run should not wait for it).
    """
    from kafka import KafkaProducer

    from streams.topics import KEEP_BY_TIME_FOREVER, TopicSpec, ensure_topics

    hooks = hooks or ReplayHooks()
    check_run_name(run)
    if start >= end:
        raise ReplayError(f"--from {start.isoformat()} is not before --to {end.isoformat()}")
    events_topic, alerts_topic = (topic_name(settings, run, k) for k in ("events", "alerts"))
    if source.topic in (events_topic, alerts_topic):
        raise ReplayError("a replay cannot read its own output topics")
    existing = run_records(settings, run)
    if existing:
        raise ReplayError(
            f"run {run!r} already holds {existing} record(s) (the same replay ran before?); "
            "pass --run NAME for a new run"
        )
    start_ms, end_ms = to_ms(start), to_ms(end)
    if not source.topic and not source.files:
        raise ReplayError("give --topic or --files")
    if source.topic:
        records = [
            r
            for r in read_topic(
                settings, source.topic, start_ms, end_ms, hooks.read_total, hooks.read
            )
            if in_range(r.timestamp_ms, start_ms, end_ms)
        ]
    else:
        records, undated = read_files(source.files or [], start, end)
        if undated and hooks.note is not None:
            hooks.note(f"{undated} file record(s) without a usable published_at were skipped")
        if hooks.read_total is not None:
            hooks.read_total(len(records))
        if hooks.read is not None:
            hooks.read(len(records))
    in_window = sum(1 for r in records if in_range(r.timestamp_ms, start_ms, end_ms))
    if hooks.note is not None and not isinstance(coder, Coder):
        hooks.note(f"{in_window} record(s) in range; loading the coder …")
    loaded = coder if isinstance(coder, Coder) else coder()
    if hooks.replay_total is not None:
        hooks.replay_total(in_window)
    ensure_topics(
        settings,
        [
            TopicSpec(t, settings.partitions, KEEP_BY_TIME_FOREVER)
            for t in (events_topic, alerts_topic)
        ],
    )
    summary = ReplaySummary(run)
    failed: list[BaseException] = []
    producer = KafkaProducer(
        acks="all", linger_ms=20, max_in_flight_requests_per_connection=1,
        **settings.kafka_python_config(),
    )  # fmt: skip
    try:
        replayer = Replayer(loaded, watchlist, settings.max_article_bytes)
        for rec, step in replay_records(replayer, records, start_ms, end_ms, summary):
            for topic, items in ((events_topic, step.events), (alerts_topic, step.alerts)):
                for item in items:
                    producer.send(
                        topic, key=item.pair.encode(), value=dump_json(item),
                        timestamp_ms=rec.timestamp_ms,
                    ).add_errback(failed.append)  # fmt: skip
            if hooks.replayed is not None:
                hooks.replayed(1)
        producer.flush()
    finally:
        producer.close()
    if failed:
        raise ReplayError(f"{len(failed)} record(s) not written to the run's topics: {failed[0]}")
    return summary


def read_run_alerts(settings: Settings, run: str) -> dict[str, dict[str, Any]]:
    """The latest version of every alert of a run."""
    topic = topic_name(settings, check_run_name(run), "alerts")
    try:
        return latest_alerts(r.value for r in read_topic(settings, topic))
    except ReplayError as exc:
        raise ReplayError(f"no replay run {run!r} ({exc})") from exc


# ---------------------------------------------------------------------------------------------
# Terminal output (the CLI's thin layer)


@contextmanager
def progress_hooks(console: Console) -> Iterator[ReplayHooks]:
    """A rich progress bar per phase, with count, rate and ETA, on the given (stderr) console."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description:>6}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        tasks = {
            name: bar.add_task(name, total=None, rate="", start=False)
            for name in ("read", "replay")
        }

        def total(name: str) -> Tick:
            def set_total(n: int) -> None:
                bar.start_task(tasks[name])  # the clock (rate, ETA) starts with the phase
                bar.update(tasks[name], total=n)

            return set_total

        def advance(name: str) -> Tick:
            def step(n: int) -> None:
                bar.advance(tasks[name], n)
                speed = bar.tasks[tasks[name]].speed
                bar.update(tasks[name], rate=f"{speed:,.0f}/s" if speed else "")

            return step

        yield ReplayHooks(
            read_total=total("read"),
            read=advance("read"),
            replay_total=total("replay"),
            replayed=advance("replay"),
            note=lambda text: console.print(text, style="yellow", markup=False),
        )


def print_summary(summary: ReplaySummary, out: Console, topics: tuple[str, str]) -> None:
    """The human summary: counts, alerts by pair, where the output went."""
    from rich.table import Table

    dlq = ", ".join(f"{r} {n}" for r, n in sorted(summary.dlq.items()))
    out.print(
        f"run [bold]{summary.run}[/]: {summary.articles} article(s), {summary.events} event(s), "
        f"{len(summary.alert_ids)} alert(s) ({summary.alert_versions} version(s)), "
        f"dlq {sum(summary.dlq.values())}{f' ({dlq})' if dlq else ''}"
    )
    if summary.alert_ids:
        table = Table("pair", "alerts")
        for pair, n in summary.alerts_by_pair.items():
            table.add_row(pair, str(n))
        out.print(table)
    out.print(f"events → {topics[0]}\nalerts → {topics[1]}", markup=False)


def print_diff(run_a: str, run_b: str, changes: list[AlertChange], out: Console) -> None:
    """Alerts added, removed and changed, one row each, grouped by pair and rule."""
    from rich.table import Table

    counts = Counter(c.kind for c in changes)
    out.print(
        f"{run_a} → {run_b}: {counts['added']} added, {counts['removed']} removed, "
        f"{counts['changed']} changed",
        markup=False,
    )
    if not changes:
        return
    table = Table("pair", "rule", "change", "alert", "what")
    style = {"added": "green", "removed": "red", "changed": "yellow"}
    for c in changes:
        what = "; ".join(f"{k}: {a} → {b}" for k, a, b in ((k, *v) for k, v in c.fields.items()))
        table.add_row(
            c.pair,
            c.rule,
            f"[{style[c.kind]}]{c.kind}[/]",
            c.alert_id,
            what or f"{c.alert.get('severity')} {c.alert.get('cameo')}",
        )
    out.print(table)


def diff_json(run_a: str, run_b: str, changes: list[AlertChange]) -> dict[str, Any]:
    """The ``replay diff --json`` object."""
    counts = Counter(c.kind for c in changes)
    return {
        "run_a": run_a,
        "run_b": run_b,
        **{kind: counts[kind] for kind in ("added", "removed", "changed")},
        "changes": [c.as_json() for c in changes],
    }
