"""The archive format without a broker: lossless round trip, commit protocol, crash repair."""

from __future__ import annotations

import calendar
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.archive import (
    STATE_FILE,
    ArchivedRecord,
    ArchiveError,
    ArchiveState,
    ArchiveWriter,
    read_archive,
)

T = "geomon.articles"


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, minute, second)) * 1000


def rec(
    partition: int,
    offset: int,
    ts: int,
    value: bytes | None = b"v",
    key: bytes | None = b"k",
    headers: tuple[tuple[str, bytes | None], ...] = (),
) -> ArchivedRecord:
    return ArchivedRecord(T, partition, offset, ts, key, value, headers)


RECORDS = [
    rec(0, 0, ms(2024, 3, 1, 23, 59, 59) + 999, b"\xff\xfe\x00\x80 not utf-8", key=None),
    rec(1, 0, ms(2024, 3, 2), b'{"text": "caf\xc3\xa9"}', headers=(("geomon-reason", b"\x00x"), ("n", None))),
    rec(0, 1, ms(2024, 3, 2, 12), None),  # a tombstone
    rec(1, 1, ms(2024, 3, 3, 1), b""),
    rec(2, 7, -1, b"no timestamp"),
]


def test_lines_are_lossless_json() -> None:
    for r in RECORDS:
        line = r.to_line()
        assert line.endswith("\n") and "\n" not in line[:-1]
        obj = json.loads(line)
        assert set(obj) == {"topic", "partition", "offset", "timestamp_ms", "timestamp_type",
                            "key_b64", "value_b64", "headers"}
        assert ArchivedRecord.from_line(line) == r
    assert RECORDS[0].day == "2024-03-01" and RECORDS[1].day == "2024-03-02"
    assert RECORDS[4].day == "undated" and RECORDS[4].timestamp is None


def test_write_read_resume(tmp_path: Path) -> None:
    w = ArchiveWriter(tmp_path, T)
    assert w.next_offset(0) is None
    assert w.write(RECORDS[:3]) == {"2024-03-01": 1, "2024-03-02": 2}
    w.write(RECORDS[3:])
    w.close()
    folder = tmp_path / T
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "2024-03-01.jsonl.gz", "2024-03-02.jsonl.gz", "2024-03-03.jsonl.gz", STATE_FILE,
        "undated.jsonl.gz",
    ]
    # plain gzip tools read the appended members as one stream
    with gzip.open(folder / "2024-03-02.jsonl.gz", "rt") as fh:
        assert len(fh.readlines()) == 2
    got = list(read_archive(tmp_path, T))
    assert got == [RECORDS[0], RECORDS[1], RECORDS[2], RECORDS[3], RECORDS[4]]
    state = ArchiveState.load(folder, T)
    assert state is not None and state.next_offsets == {0: 2, 1: 2, 2: 8}
    w2 = ArchiveWriter(tmp_path, T)
    assert (w2.next_offset(0), w2.next_offset(1), w2.next_offset(2)) == (2, 2, 8)
    w2.close()
    # a time range opens only the days it needs and filters by timestamp
    window = list(read_archive(tmp_path, T, datetime(2024, 3, 2, tzinfo=UTC),
                               datetime(2024, 3, 2, 12, tzinfo=UTC)))
    assert window == [RECORDS[1]]


def test_uncommitted_tail_is_never_read_and_cut_on_resume(tmp_path: Path) -> None:
    w = ArchiveWriter(tmp_path, T)
    w.write(RECORDS[:2])
    w.close()
    day = tmp_path / T / "2024-03-02.jsonl.gz"
    committed = day.stat().st_size
    # a crash after the data but before the state: a whole member and half of another
    member = gzip.compress(rec(1, 1, ms(2024, 3, 2, 5)).to_line().encode())
    with day.open("ab") as fh:
        fh.write(member + member[:10])
    (tmp_path / T / "2024-03-09.jsonl.gz").write_bytes(member)  # a file never committed
    assert list(read_archive(tmp_path, T)) == RECORDS[:2]
    w = ArchiveWriter(tmp_path, T)
    assert day.stat().st_size == committed
    assert not (tmp_path / T / "2024-03-09.jsonl.gz").exists()
    w.write(RECORDS[2:4])
    w.close()
    assert list(read_archive(tmp_path, T)) == RECORDS[:4]


def test_a_write_that_fails_half_way_is_redone_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = ArchiveWriter(tmp_path, T)
    w.write(RECORDS[:1])
    real_save = ArchiveState.save
    calls = {"n": 0}

    def failing_save(self: ArchiveState, folder: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")
        real_save(self, folder)

    monkeypatch.setattr(ArchiveState, "save", failing_save)
    with pytest.raises(OSError):
        w.write(RECORDS[1:4])
    w.write(RECORDS[1:4])
    w.close()
    assert list(read_archive(tmp_path, T)) == RECORDS[:4]


def test_refuses_unsafe_folders(tmp_path: Path) -> None:
    w = ArchiveWriter(tmp_path, T)
    with pytest.raises(ArchiveError, match="another archiver"):
        ArchiveWriter(tmp_path, T)
    w.write(RECORDS[:2])
    w.close()
    (tmp_path / T / STATE_FILE).rename(tmp_path / "saved-state.json")
    with pytest.raises(ArchiveError, match="no _state.json"):
        ArchiveWriter(tmp_path, T)
    (tmp_path / "saved-state.json").rename(tmp_path / T / STATE_FILE)
    with (tmp_path / T / "2024-03-01.jsonl.gz").open("r+b") as fh:
        fh.truncate(5)
    with pytest.raises(ArchiveError, match="damaged"):
        ArchiveWriter(tmp_path, T)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / STATE_FILE).write_text((tmp_path / T / STATE_FILE).read_text())
    with pytest.raises(ArchiveError, match="not a format 1 state of topic 'other'"):
        ArchiveWriter(tmp_path, "other")
    with pytest.raises(ArchiveError):
        ArchiveWriter(tmp_path, "..")
    with pytest.raises(FileNotFoundError):
        list(read_archive(tmp_path, "never.archived"))
