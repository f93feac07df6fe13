"""The helper processes give the answers the loop would, and survive their own death."""

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from streams.normalize import Rejection, normalize
from streams.offload import CoderCrashed, Offload, code_clean
from streams.records import CleanArticle
from streams.settings import REPO_ROOT

LIMIT = 100_000
GOOD = json.dumps({
    "id": "off-1",
    "title": "Pyongyang envoy in Tehran",
    "text": "North Korea's foreign minister visited Iran on Monday and met his Iranian "
            "counterpart. Russia sent artillery shells to North Korea, officials said.",
}).encode()


@pytest.fixture(scope="module")
def offload() -> Iterator[Offload]:
    off = Offload(REPO_ROOT / "configs", LIMIT, processes=1)
    off.start()
    yield off
    off.close()


def clean(raw: bytes) -> bytes:
    art = normalize(raw, LIMIT)
    assert isinstance(art, CleanArticle)
    return art.model_dump_json().encode()


async def test_normalize_in_a_helper_gives_what_the_loop_gives(offload):
    for raw in (GOOD, b"\xff\xfe not utf-8", b"[1, 2]", b"plain text about Iran"):
        assert await offload.normalize(raw) == normalize(raw, LIMIT)
    assert isinstance(await offload.normalize(b"x" * (LIMIT + 1)), Rejection)


async def test_code_in_a_helper_gives_what_the_loop_gives(offload, coder):
    value = clean(GOOD)
    there, here = await offload.code(value), code_clean(coder, value)
    def facts(events):
        return [e.model_dump(exclude={"coded_at"}) for e in events]

    assert facts(there.events) == facts(here.events)
    assert {e.pair for e in there.events} >= {"IRN-PRK", "PRK-RUS"}
    assert there.seconds > 0 and there.schema_error is None and there.coder_error is None
    bad = await offload.code(b'{"id": "x"}')
    assert bad.events == [] and bad.schema_error


async def test_a_killed_helper_is_replaced_and_the_work_still_done(offload, coder):
    (before,) = await offload.pids()
    os.kill(before, signal.SIGKILL)
    value = clean(GOOD)
    result = await offload.code(value)  # sent to the dead helper or to its successor
    expected = code_clean(coder, value).events
    assert [e.event_id for e in result.events] == [e.event_id for e in expected]
    (after,) = await offload.pids()
    assert after != before


async def test_work_that_kills_its_helper_twice_is_given_up(offload):
    with pytest.raises(CoderCrashed):
        await offload._call(os._exit, 3)
    assert len(await offload.pids()) == 1  # and the pool works for the next article
    assert (await offload.normalize(GOOD)) == normalize(GOOD, LIMIT)


async def test_normalize_falls_back_to_the_loop_when_helpers_keep_dying(offload, monkeypatch):
    async def dying(*args):
        raise CoderCrashed("test")

    monkeypatch.setattr(offload, "_call", dying)
    assert await offload.normalize(GOOD) == normalize(GOOD, LIMIT)
    with pytest.raises(CoderCrashed):
        await offload.code(clean(GOOD))


def test_an_offload_needs_a_process():
    with pytest.raises(ValueError):
        Offload(REPO_ROOT / "configs", LIMIT, processes=0)


def test_helpers_end_with_their_worker_even_when_it_is_killed():
    script = ("import sys\nfrom streams.offload import Offload\nfrom streams.settings import REPO_ROOT\n"
              "off = Offload(REPO_ROOT / 'configs', 1000, processes=1)\n"
              "print(off.start()[0], flush=True)\nsys.stdin.read()\n")
    worker = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        helper = int(worker.stdout.readline())
        exited = os.pidfd_open(helper)  # readable once the helper has ended
    finally:
        worker.kill()
        worker.wait()
    ready, _, _ = select.select([exited], [], [], 60)
    os.close(exited)
    assert ready, "the coder process outlived its killed worker"


def test_a_loaded_coder_is_kept_out_of_the_cycle_collector():
    """A full collection walked the coder's ~0.9 M objects (~0.3 s, the loop blocked)."""
    import subprocess
    import sys

    from streams.settings import REPO_ROOT

    code = (
        "import gc, sys; from pathlib import Path; from streams.offload import load_coder\n"
        "coder = load_coder(Path(sys.argv[1]))\n"
        "print(gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(REPO_ROOT / "configs")],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    frozen, tracked = map(int, out.split())
    assert frozen > 200_000
    assert tracked < frozen / 10
