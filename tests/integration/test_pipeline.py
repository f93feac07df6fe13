"""The whole monitor on the real broker: articles in, alerts out, bad input to the DLQ."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from tests.conftest import SAMPLES_DIR
from tests.integration.helpers import (
    alert_values,
    consume_until,
    produce,
    running_worker,
    worker_env,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=[0, 1], ids=["in-loop", "coder-process"])
def live(request, kafka_broker, tmp_path_factory):
    """One worker on a private topic prefix for this module's tests: coding in its event loop,
    then in a helper process (GEOMON_CODER_PROCESSES)."""
    prefix = f"it{uuid.uuid4().hex[:6]}"
    tmp = tmp_path_factory.mktemp("worker")
    env = worker_env(kafka_broker.bootstrap, prefix, tmp / "data",
                     GEOMON_CODER_PROCESSES=str(request.param))
    subprocess.run([sys.executable, "-m", "streams.cli", "ingest", str(SAMPLES_DIR / "articles")],
                   env=env, check=True, capture_output=True, timeout=120)
    with running_worker(env, tmp / "worker.log") as proc:
        yield {"env": env, "prefix": prefix, "bootstrap": kafka_broker.bootstrap, "proc": proc,
               "log": tmp / "worker.log"}


def test_samples_give_an_irn_prk_alert_on_its_pair_topic(live):
    records = consume_until(
        live["bootstrap"], f"{live['prefix']}.alerts.IRN-PRK", lambda r: len(r) >= 1,
        alive=lambda: live["proc"].poll() is None,
    )
    alerts = alert_values(records)
    assert alerts, live["log"].read_text()[-3000:]
    alert = alerts[0]
    assert alert["pair"] == "IRN-PRK"
    assert alert["rule"]["name"] == "first_activity"
    assert records[0].key == b"IRN-PRK"
    assert alert["evidence"][0]["sentence"]


def test_bad_input_goes_to_the_dlq_and_good_messages_around_it_are_coded(live):
    marker = uuid.uuid4().hex[:8]
    good_before = json.dumps({"id": f"before-{marker}", "source": "Example Wire",
                              "text": "Russia's defence minister visited China for talks."})
    good_after = json.dumps({"id": f"after-{marker}", "source": "Example Wire",
                             "text": "China's foreign minister visited Russia on Monday."})
    bad = [b"\xff\xfe broken", b"ok\x00\x00binary", b'{"text": 5}', b"{not json", b"   "]
    produce(live["bootstrap"], f"{live['prefix']}.articles",
            [good_before.encode(), *bad, good_after.encode()])
    dlq = consume_until(live["bootstrap"], f"{live['prefix']}.articles.dlq",
                        lambda r: len(r) >= len(bad), alive=lambda: live["proc"].poll() is None)
    reasons = sorted(dict(r.headers)["geomon-reason"].decode() for r in dlq)
    assert reasons == sorted(["not_utf8", "binary", "schema", "invalid_json", "empty"])
    assert {r.value for r in dlq} == set(bad)
    wanted = {f"before-{marker}", f"after-{marker}"}

    def both_coded(records):
        return wanted <= {json.loads(r.value)["article_id"] for r in records}

    events = consume_until(live["bootstrap"], f"{live['prefix']}.events", both_coded,
                           alive=lambda: live["proc"].poll() is None)
    coded = [json.loads(r.value) for r in events if json.loads(r.value)["article_id"] in wanted]
    assert {e["pair"] for e in coded} == {"CHN-RUS"}
    assert live["proc"].poll() is None, "the worker must survive bad input"
