"""Read articles from files, folders and stdin and produce them to the articles topic.

Files are sent as they are (the normalize agent is the one place that judges them), except
that a JSON article gets ``ingested_at`` so end-to-end latency can be measured, and its
record timestamp is its ``published_at`` so a backfill lands at the right place in time.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.records import utcnow

SUFFIXES = (".json", ".jsonl", ".ndjson", ".txt")


@dataclass(frozen=True)
class Outgoing:
    """One message for the articles topic."""

    key: bytes | None
    value: bytes
    timestamp_ms: int | None
    origin: str


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def record_timestamp_ms(when: datetime | None) -> int | None:
    """A record timestamp for a publication time; None (the producer uses now) if unusable.

    Integer arithmetic, because ``int(when.timestamp() * 1000)`` is off by one millisecond for
    some times. Unusable: a time without a zone (ambiguous), before 1970 (Kafka refuses it) or
    in the future (a wrong clock or zone; brokers may refuse it and it would hold back
    time-based retention).
    """
    if when is None or when.tzinfo is None:
        return None
    ms = (when - _EPOCH) // timedelta(milliseconds=1)
    return ms if 0 <= ms <= (utcnow() - _EPOCH) // timedelta(milliseconds=1) else None


def _timestamp_ms(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return record_timestamp_ms(when)


def _from_json_text(text: str, origin: str, stamp: bool) -> Outgoing:
    """A JSON article (or something that only looks like one: normalize will judge it)."""
    try:
        obj = json.loads(text)
    except ValueError:
        return Outgoing(None, text.encode("utf-8", "surrogateescape"), None, origin)
    if not isinstance(obj, dict):
        return Outgoing(None, text.encode("utf-8", "surrogateescape"), None, origin)
    if stamp and "ingested_at" not in obj:
        obj["ingested_at"] = utcnow().isoformat()
    key = obj.get("id")
    return Outgoing(
        str(key).encode() if isinstance(key, str | int) else None,
        json.dumps(obj, ensure_ascii=False).encode("utf-8"),
        _timestamp_ms(obj.get("published_at")),
        origin,
    )


def read_path(path: Path, stamp: bool = True) -> Iterator[Outgoing]:
    """Messages from one file: .jsonl one per line, .json one, anything else raw text."""
    if path.suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8", errors="surrogateescape") as fh:
            for n, line in enumerate(fh, start=1):
                if line.strip():
                    yield _from_json_text(line.strip(), f"{path}:{n}", stamp)
    elif path.suffix == ".json":
        yield _from_json_text(path.read_text(encoding="utf-8"), str(path), stamp)
    else:
        yield Outgoing(None, path.read_bytes(), None, str(path))


def expand(paths: Iterable[str]) -> list[Path]:
    """Files named, and the article files inside folders named, in a stable order."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out += sorted(f for f in path.rglob("*") if f.is_file() and f.suffix in SUFFIXES)
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return out


def read_stdin(stamp: bool = True) -> Iterator[Outgoing]:
    """JSON lines if every line is a JSON object, else the whole input is one text article."""
    data = sys.stdin.buffer.read()
    text = data.decode("utf-8", errors="surrogateescape")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and all(ln.lstrip().startswith("{") for ln in lines):
        for n, line in enumerate(lines, start=1):
            yield _from_json_text(line, f"<stdin>:{n}", stamp)
    elif data.strip():
        yield Outgoing(None, data, None, "<stdin>")


def produce(producer: Any, topic: str, messages: Iterable[Outgoing]) -> int:
    """Send messages with kafka-python; returns how many were acknowledged."""
    futures = [
        producer.send(topic, key=m.key, value=m.value, timestamp_ms=m.timestamp_ms)
        for m in messages
    ]
    producer.flush()
    return sum(1 for f in futures if f.succeeded())
