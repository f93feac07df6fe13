"""Issue 7 faults on the real broker: the broker stopped for 30 s and started again.

The test owns its broker (not the session one: other tests share that). A `geomon worker`
processes articles, the broker goes down for 30 s (the scenario itself, not a synchronisation
wait), comes back on the same port and data dir, and more articles are produced. The worker
must then either resume by itself (the new articles' alerts appear) or exit non-zero by itself
so that a supervisor restarts it; a worker that is alive but stuck is the defect this catches.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker
from tests.integration.helpers import consume_until, produce, running_worker, worker_env
from tests.integration.test_alerts import PAIRS, T0, article, config_dir

pytestmark = pytest.mark.integration

OUTAGE_S = 30.0
RESUME_TIMEOUT_S = 240.0


def alert_pairs(records: list) -> set[str]:
    return {json.loads(r.value)["pair"] for r in records}


def test_broker_down_30s_worker_resumes_or_exits_nonzero(tmp_path: Path) -> None:
    broker = EmbeddedBroker(kind="kafka", data_dir=tmp_path / "broker")
    broker.start()
    try:
        before = ["-".join(p) for p in PAIRS[:2]]
        after = ["-".join(p) for p in PAIRS[2:4]]
        prefix = f"ft{uuid.uuid4().hex[:6]}"
        env = worker_env(broker.bootstrap, prefix, tmp_path / "data",
                         GEOMON_CONFIG_DIR=str(config_dir(tmp_path, before + after)))
        articles, alerts = f"{prefix}.articles", f"{prefix}.alerts"
        log1 = tmp_path / "worker.log"
        with running_worker(env, log1) as proc:
            produce(broker.bootstrap, articles,
                    [article(f"b{i}", a, b, T0 + timedelta(hours=i), f"Wire {i}")
                     for i, (a, b) in enumerate(PAIRS[:2])])
            got = consume_until(broker.bootstrap, alerts,
                                lambda rs: alert_pairs(rs) >= set(before),
                                alive=lambda: proc.poll() is None)
            assert alert_pairs(got) >= set(before), "no alerts before the outage"

            broker.stop()
            outage_end = time.monotonic() + OUTAGE_S
            while time.monotonic() < outage_end:  # the outage itself; note an early exit
                if proc.poll() is not None:
                    break
                time.sleep(0.5)
            remaining = outage_end - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)  # keep the broker down the full 30 s regardless
            broker.start()  # same port, same data dir

            produce(broker.bootstrap, articles,
                    [article(f"a{i}", a, b, T0 + timedelta(days=1, hours=i), f"Wire {i}")
                     for i, (a, b) in enumerate(PAIRS[2:4])])

            # Resume, or exit non-zero: whichever comes first, within a bound.
            deadline = time.monotonic() + RESUME_TIMEOUT_S
            resumed = False
            while time.monotonic() < deadline and proc.poll() is None:
                got = consume_until(broker.bootstrap, alerts, lambda rs: False, timeout=3)
                if alert_pairs(got) >= set(after):
                    resumed = True
                    break
            code = proc.poll()
            log_text = log1.read_text(errors="replace")
            if not resumed:
                assert code is not None, (
                    f"silent hang: the worker neither resumed nor exited within "
                    f"{RESUME_TIMEOUT_S:.0f}s after the broker came back\n{log_text[-4000:]}")
                assert code != 0, f"the worker exited 0 after a broker outage\n{log_text[-4000:]}"

        if resumed:
            # nothing from before the outage was alerted twice on the way back
            everything = consume_until(broker.bootstrap, alerts, lambda rs: False, timeout=5)
            keys = [(json.loads(r.value)["alert_id"], json.loads(r.value)["version"])
                    for r in everything]
            assert len(keys) == len(set(keys)), "an alert was repeated after the outage"
            return

        # The worker gave up with a non-zero code: a supervisor restarts it, and the restarted
        # worker must then process what was produced after the outage.
        with running_worker(env, tmp_path / "worker.2.log") as proc2:
            got = consume_until(broker.bootstrap, alerts,
                                lambda rs: alert_pairs(rs) >= set(after),
                                alive=lambda: proc2.poll() is None, timeout=180)
        assert alert_pairs(got) >= set(after), "the restarted worker did not catch up"
    finally:
        broker.stop()
