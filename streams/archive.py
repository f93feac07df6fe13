"""Archive a topic's records into dated, compressed JSONL files, resumably, and read them back.

Format 1, under ``OUT/<topic>/``:

``<YYYY-MM-DD>.jsonl.gz``
    The records whose timestamp falls on that UTC day (``undated.jsonl.gz`` for records without
    one). A file is a series of gzip members, one per write, each holding whole lines (``zcat``
    and ``gzip.open`` read them as one stream). Each line is one record, losslessly::

        {"topic": "geomon.articles", "partition": 3, "offset": 1041,
         "timestamp_ms": 1712914200000, "timestamp_type": 0,
         "key_b64": "YWJj" | null, "value_b64": "eyJ0ZXh0Ijo..." | null,
         "headers": [["geomon-reason", "bm90X3V0Zjg="], ...]}

    Keys, values and header values are standard base64 of the exact bytes (values may be any
    bytes); null is an absent key or a tombstone. ``timestamp_type`` is Kafka's (0 create time,
    1 log-append time).

``_state.json``
    ``{"format": 1, "topic": ..., "next_offsets": {"<partition>": offset, ...},
    "files": {"<day>.jsonl.gz": committed size in bytes, ...}}``, replaced atomically.

Why it is safe to stop at any moment: a write appends one gzip member to each day file it
touches, fsyncs them, then replaces the state with the new next offsets and file sizes. Bytes
past a file's committed size belong to a write whose state was never saved; the next run cuts
them off before it appends, and the reader never reads them, so every record is in the archive
exactly once however often the archiver is stopped and started. One archiver per folder at a
time (a lock file enforces it); partitions added while it runs are picked up at its next start.

Order: day files ascending; inside a file, records in the order they were archived (each
partition in offset order; partitions interleaved). A replay filters by timestamp anyway.
"""

from __future__ import annotations

import base64
import fcntl
import gzip
import io
import json
import logging
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from streams.settings import Settings

log = logging.getLogger(__name__)

FORMAT = 1
STATE_FILE = "_state.json"
LOCK_FILE = ".lock"
SUFFIX = ".jsonl.gz"
UNDATED = "undated"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ArchiveError(Exception):
    """The archive folder is not in a state this archiver can safely continue from."""


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(data: str | None) -> bytes | None:
    return None if data is None else base64.b64decode(data, validate=True)


@dataclass(frozen=True)
class ArchivedRecord:
    """One Kafka record as archived: coordinates, timestamp and the exact bytes."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp_type: int = 0

    @property
    def timestamp(self) -> datetime | None:
        """The record time in UTC, or None when the record has none."""
        if self.timestamp_ms < 0:
            return None
        return _EPOCH + timedelta(milliseconds=self.timestamp_ms)

    @property
    def day(self) -> str:
        """The UTC day (YYYY-MM-DD) whose file holds the record."""
        when = self.timestamp
        return when.date().isoformat() if when is not None else UNDATED

    @classmethod
    def from_consumer(cls, rec: Any) -> ArchivedRecord:
        """From a kafka-python ConsumerRecord."""
        ts = rec.timestamp if rec.timestamp is not None else -1
        return cls(
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            timestamp_ms=ts,
            key=rec.key,
            value=rec.value,
            headers=tuple((str(k), v) for k, v in (rec.headers or [])),
            timestamp_type=rec.timestamp_type if rec.timestamp_type is not None else 0,
        )

    def to_line(self) -> str:
        """The record as one JSON line (with its newline)."""
        obj = {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "timestamp_type": self.timestamp_type,
            "key_b64": _b64(self.key),
            "value_b64": _b64(self.value),
            "headers": [[k, _b64(v)] for k, v in self.headers],
        }
        return json.dumps(obj, separators=(",", ":")) + "\n"

    @classmethod
    def from_line(cls, line: str) -> ArchivedRecord:
        """Parse one archive line."""
        obj = json.loads(line)
        return cls(
            topic=obj["topic"],
            partition=int(obj["partition"]),
            offset=int(obj["offset"]),
            timestamp_ms=int(obj["timestamp_ms"]),
            key=_unb64(obj.get("key_b64")),
            value=_unb64(obj.get("value_b64")),
            headers=tuple((str(k), _unb64(v)) for k, v in obj.get("headers") or []),
            timestamp_type=int(obj.get("timestamp_type", 0)),
        )


@dataclass
class ArchiveState:
    """Where to resume (next offset per partition) and how much of each file is committed."""

    topic: str
    next_offsets: dict[int, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path, topic: str) -> ArchiveState | None:
        """The saved state, or None when there is none."""
        path = folder / STATE_FILE
        if not path.exists():
            return None
        obj = json.loads(path.read_text(encoding="utf-8"))
        if obj.get("format") != FORMAT or obj.get("topic") != topic:
            raise ArchiveError(f"{path}: not a format {FORMAT} state of topic {topic!r}")
        return cls(
            topic=topic,
            next_offsets={int(p): int(o) for p, o in obj["next_offsets"].items()},
            files={str(n): int(s) for n, s in obj["files"].items()},
        )

    def save(self, folder: Path) -> None:
        """Replace the state file atomically (write, fsync, rename, fsync the folder)."""
        obj = {
            "format": FORMAT,
            "topic": self.topic,
            "next_offsets": {str(p): o for p, o in sorted(self.next_offsets.items())},
            "files": dict(sorted(self.files.items())),
        }
        tmp = folder / (STATE_FILE + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / STATE_FILE)
        _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def topic_folder(out: Path, topic: str) -> Path:
    """``OUT/<topic>``: topic names are safe file names ([a-zA-Z0-9._-], never . or ..)."""
    if topic in ("", ".", "..") or "/" in topic or "\\" in topic:
        raise ArchiveError(f"not a topic name: {topic!r}")
    return out / topic


class ArchiveWriter:
    """Appends records to the day files and commits them with the state file."""

    def __init__(self, out: Path, topic: str) -> None:
        """Take the folder's lock, load the state and cut off any uncommitted tail."""
        self.topic = topic
        self.folder = topic_folder(out, topic)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = (self.folder / LOCK_FILE).open("a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock.close()
            raise ArchiveError(f"another archiver is writing {self.folder}") from exc
        try:
            state = ArchiveState.load(self.folder, topic)
            day_files = sorted(self.folder.glob("*" + SUFFIX))
            if state is None and day_files:
                raise ArchiveError(
                    f"{self.folder} has archive files but no {STATE_FILE}; "
                    "restore the state file or move the files away"
                )
            self.state = state or ArchiveState(topic)
            self._repair(day_files)
        except BaseException:
            self.close()
            raise

    def _repair(self, day_files: list[Path]) -> None:
        for path in day_files:
            committed = self.state.files.get(path.name)
            size = path.stat().st_size
            if committed is None:
                log.warning("%s: never committed (%d bytes); removed", path, size)
                path.unlink()
            elif size > committed:
                log.warning("%s: cutting %d uncommitted bytes", path, size - committed)
                os.truncate(path, committed)
            elif size < committed:
                raise ArchiveError(
                    f"{path} is {size} bytes but {committed} were committed: damaged archive"
                )
        for name in self.state.files:
            if not (self.folder / name).exists():
                raise ArchiveError(f"{self.folder / name} is missing: damaged archive")

    def next_offset(self, partition: int) -> int | None:
        """Where this partition resumes, or None for the beginning."""
        return self.state.next_offsets.get(partition)

    def write(self, records: Sequence[ArchivedRecord]) -> Counter[str]:
        """Append and commit records; returns how many went to each day."""
        by_day: dict[str, list[str]] = defaultdict(list)
        for rec in records:
            by_day[rec.day].append(rec.to_line())
        if not by_day:
            return Counter()
        new = ArchiveState(self.topic, dict(self.state.next_offsets), dict(self.state.files))
        for day, lines in sorted(by_day.items()):
            name = day + SUFFIX
            committed = self.state.files.get(name, 0)
            member = gzip.compress("".join(lines).encode("utf-8"), compresslevel=6, mtime=0)
            with (self.folder / name).open("ab") as fh:
                fh.truncate(committed)  # a failed earlier attempt may have left a tail
                fh.write(member)
                fh.flush()
                os.fsync(fh.fileno())
            new.files[name] = committed + len(member)
        for rec in records:
            nxt = new.next_offsets.get(rec.partition, 0)
            new.next_offsets[rec.partition] = max(nxt, rec.offset + 1)
        _fsync_dir(self.folder)
        new.save(self.folder)
        self.state = new  # only now: a write that failed half-way is redone from the old sizes
        return Counter({day: len(lines) for day, lines in by_day.items()})

    def close(self) -> None:
        """Release the lock."""
        self._lock.close()


class _Prefix(io.RawIOBase):
    """The first ``size`` bytes of a file: the committed part of a day file."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self._fh = fh
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left)
        data = self._fh.read(n)
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)


def _day_of(name: str) -> str:
    return name[: -len(SUFFIX)]


def read_archive(
    out: Path, topic: str, start: datetime | None = None, end: datetime | None = None
) -> Iterator[ArchivedRecord]:
    """Archived records of a topic (committed ones only), optionally those in [start, end).

    Day files come in date order and only the days that can hold the range are opened;
    ``undated`` records come last and only when no range is given.
    """
    folder = topic_folder(out, topic)
    if not folder.is_dir():
        raise FileNotFoundError(f"no archive of {topic!r} under {out}")
    state = ArchiveState.load(folder, topic)
    names = sorted(p.name for p in folder.glob("*" + SUFFIX))
    names.sort(key=lambda n: _day_of(n) == UNDATED)
    start_ms = _ms(start) if start is not None else None
    end_ms = _ms(end) if end is not None else None
    ranged = start_ms is not None or end_ms is not None
    for name in names:
        day = _day_of(name)
        if ranged and (day == UNDATED or not _day_overlaps(day, start, end)):
            continue
        if state is not None and name not in state.files:
            continue  # never committed
        path = folder / name
        size = state.files[name] if state is not None else path.stat().st_size
        with path.open("rb") as raw, gzip.open(io.BufferedReader(_Prefix(raw, size))) as gz:
            for line in io.TextIOWrapper(gz, encoding="utf-8"):
                if not line.strip():
                    continue
                rec = ArchivedRecord.from_line(line)
                if start_ms is not None and rec.timestamp_ms < start_ms:
                    continue
                if end_ms is not None and rec.timestamp_ms >= end_ms:
                    continue
                yield rec


def _ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError(f"{when.isoformat()} has no time zone")
    return (when - _EPOCH) // timedelta(milliseconds=1)


def _day_overlaps(day: str, start: datetime | None, end: datetime | None) -> bool:
    first = datetime.fromisoformat(day).replace(tzinfo=UTC)
    after = first + timedelta(days=1)
    return (start is None or after > start) and (end is None or first < end)


def assign_all(consumer: Any, topic: str) -> list[Any]:
    """Assign every partition of a topic to a group-less consumer (also used by replays)."""
    from kafka import TopicPartition

    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise ArchiveError(f"topic {topic!r} does not exist")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    return tps


@dataclass
class ArchiveSummary:
    """What a run archived."""

    topic: str
    folder: Path
    records: int = 0
    days: Counter[str] = field(default_factory=Counter)


def archive_topic(
    settings: Settings,
    topic: str,
    out: Path,
    until_end: bool = False,
    stop: threading.Event | None = None,
    flush_records: int = 5000,
    flush_seconds: float = 5.0,
) -> ArchiveSummary:
    """Copy a topic's records into the archive from where the last run stopped.

    With ``until_end`` it stops at the end offsets measured when it starts; otherwise it follows
    the topic until ``stop`` is set (or Ctrl-C). Records are written in batches of at most
    ``flush_records``, at least every ``flush_seconds`` while they arrive, and whenever the
    topic goes quiet.
    """
    from kafka import KafkaConsumer

    stop = stop or threading.Event()
    writer = ArchiveWriter(out, topic)
    summary = ArchiveSummary(topic, writer.folder)
    consumer = KafkaConsumer(
        client_id="geomon-archive",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **settings.kafka_python_config(),
    )
    buffer: list[ArchivedRecord] = []

    def flush() -> None:
        if buffer:
            days = writer.write(buffer)
            summary.records += len(buffer)
            summary.days.update(days)
            log.info("archived %d record(s) of %s", len(buffer), topic)
            buffer.clear()

    try:
        tps = assign_all(consumer, topic)
        for tp in tps:
            nxt = writer.next_offset(tp.partition)
            if nxt is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, nxt)
        ends: dict[Any, int] = consumer.end_offsets(tps) if until_end else {}
        oldest = time.monotonic()
        while not stop.is_set():
            if until_end and all(consumer.position(tp) >= ends[tp] for tp in tps):
                break
            batch = consumer.poll(timeout_ms=500, max_records=flush_records)
            for tp, recs in batch.items():
                for rec in recs:
                    if until_end and rec.offset >= ends[tp]:
                        continue  # arrived after the start: the next run takes it
                    if not buffer:
                        oldest = time.monotonic()
                    buffer.append(ArchivedRecord.from_consumer(rec))
            if (
                not batch
                or len(buffer) >= flush_records
                or time.monotonic() - oldest >= flush_seconds
            ):
                flush()
        flush()
    except KeyboardInterrupt:
        flush()
        raise
    finally:
        consumer.close()
        writer.close()
    return summary
