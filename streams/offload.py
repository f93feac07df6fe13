"""The pure steps (normalize, code) in helper processes, beside the worker's event loop.

A Faust worker is one Python thread: everything its agents do shares one core with Faust's own
consuming, producing and table bookkeeping. Normalizing and coding an article are pure
functions of its bytes and take most of an article's CPU, so the agents hand them to a pool
of ``GEOMON_CODER_PROCESSES`` processes and only await the answer; the loop serves the other
agents meanwhile. With 0 processes (the default) the agents call the same functions in the
loop: on a machine whose cores are already busy (2 cores shared with the broker, measured in
bench/) the helper's pickling and a second process cost more than the loop gains.

A helper that dies (killed, out of memory) breaks the pool: a new one is started and the work
sent again once. An article that kills the coder twice is then a coder error (the agent sends
it to the DLQ); normalizing falls back to the loop, since it must never fail.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from streams.coding.coder import Coder
from streams.normalize import Rejection, normalize
from streams.records import CleanArticle, CodedEvent

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class CodingResult:
    """A clean article's events and the coder's seconds, or why the record has none.

    ``schema_error``: the record is not a clean article; ``coder_error``: the coder raised on
    it (a bug, but one article's: the agent sends it to the DLQ and goes on).
    """

    events: list[CodedEvent] = field(default_factory=list)
    seconds: float = 0.0
    schema_error: str | None = None
    coder_error: str | None = None

    def failure(self) -> tuple[str, str] | None:
        """(DLQ reason, detail) when the record has no events to give, else None."""
        if self.schema_error is not None:
            return "schema", self.schema_error
        if self.coder_error is not None:
            return "coder_error", self.coder_error
        return None


def code_clean(coder: Coder, value: bytes) -> CodingResult:
    """Parse one record of the clean topic and code it."""
    try:
        article = CleanArticle.model_validate_json(value)
    except ValidationError as exc:
        return CodingResult(schema_error=str(exc.errors()[0]["msg"]))
    start = time.perf_counter()
    try:
        events = coder.code(article)
    except Exception as exc:
        log.exception("coder failed on article %s", article.id)
        return CodingResult(seconds=time.perf_counter() - start, coder_error=repr(exc)[:200])
    return CodingResult(events, time.perf_counter() - start)


class CoderCrashed(RuntimeError):
    """The helper process died twice on one piece of work."""


# In a helper process: the coder it loaded at start.
_coder: Coder | None = None


def _exit_with_parent() -> None:
    """End this helper when the worker ends, however it ends (SIGKILL included).

    The pool's queues do not tell a helper that its parent is gone.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - helpers are always spawned
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="geomon-parent-watch", daemon=True).start()


def load_coder(config_dir: Path) -> Coder:
    """Load the coder for a long-running process and freeze what it holds.

    The coder's ~0.9 M long-lived objects (automata payloads, lexicons) were walked by every
    full cycle collection, ~0.3 s each with the event loop blocked; frozen, they never are.
    """
    coder = Coder.from_config_dir(config_dir)
    gc.collect()  # what loading left for the collector goes now, not frozen with the rest
    gc.freeze()
    return coder


def _load(config_dir: str) -> None:
    global _coder
    _exit_with_parent()
    _coder = load_coder(Path(config_dir))


def _pid() -> int:
    return os.getpid()


def _code(value: bytes) -> CodingResult:
    if _coder is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("helper process started without its coder")
    return code_clean(_coder, value)


class Offload:
    """A pool of helper processes, each with the coder loaded."""

    def __init__(self, config_dir: Path, max_article_bytes: int, processes: int) -> None:
        if processes < 1:
            raise ValueError("an offload needs at least one process")
        self.config_dir = config_dir
        self.max_article_bytes = max_article_bytes
        self.processes = processes
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the worker has threads (Kafka clients), which a fork would copy
        # mid-flight.
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load,
            initargs=(str(self.config_dir),),
        )

    def start(self) -> list[int]:
        """Start every helper and load its coder now (seconds), not on the first article."""
        futures = [self._pool.submit(_pid) for _ in range(self.processes)]
        return sorted({f.result() for f in futures})

    async def pids(self) -> list[int]:
        """The process ids of the helpers answering now."""
        return sorted({await self._call(_pid) for _ in range(self.processes)})

    def close(self) -> None:
        """Stop the helpers without waiting for queued work."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        for attempt in (1, 2):
            pool = self._pool
            try:
                return await asyncio.wrap_future(pool.submit(fn, *args))
            except BrokenProcessPool:
                if self._pool is pool:  # the first caller to notice starts the new pool
                    log.error("a coder process died; starting a new pool")
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool()
                if attempt == 2:
                    raise CoderCrashed("the coder process died twice on this work") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def normalize(self, raw: bytes | None) -> CleanArticle | Rejection:
        """``normalize`` in a helper; in the loop when helpers keep dying (it must not fail)."""
        try:
            return await self._call(normalize, raw, self.max_article_bytes)
        except CoderCrashed:
            return normalize(raw, self.max_article_bytes)

    async def code(self, value: bytes) -> CodingResult:
        """``code_clean`` in a helper; ``CoderCrashed`` if the helper dies twice on it."""
        return await self._call(_code, value)
