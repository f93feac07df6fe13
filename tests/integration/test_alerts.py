"""Issue 4 on the real broker: one alert per story, quiet periods, SIGKILL, webhooks."""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from kafka import KafkaConsumer, TopicPartition

from alerts.sinks import SIGNATURE_HEADER, verify
from streams.broker import free_port
from tests.conftest import CONFIG_DIR
from tests.integration.helpers import (
    alert_values,
    consume_until,
    produce,
    running_worker,
    worker_env,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
NAMES = {"FRA": "France", "DEU": "Germany", "ITA": "Italy", "ESP": "Spain", "POL": "Poland",
         "BRA": "Brazil", "ARG": "Argentina", "MEX": "Mexico", "CAN": "Canada"}
PAIRS = list(itertools.combinations(sorted(NAMES), 2))[:30]


def config_dir(tmp: Path, pairs: list[str]) -> Path:
    """A copy of configs/ whose watch list holds the given pairs."""
    target = tmp / "configs"
    shutil.copytree(CONFIG_DIR, target)
    (target / "watchlist.yaml").write_text(yaml.safe_dump({
        "defaults": {"min_confidence": 0.3, "rules": {"first_activity": {"quiet_days": 14}}},
        "pairs": [{"pair": p} for p in pairs],
    }), encoding="utf-8")
    return target


def article(aid: str, a: str, b: str, when: datetime, source: str, extra: str = "") -> bytes:
    return json.dumps({
        "id": aid, "source": source, "url": f"https://{source.lower().replace(' ', '')}.example/{aid}",
        "title": f"{NAMES.get(a, a)} delegation visits {NAMES.get(b, b)}",
        "text": f"A trade delegation from {NAMES.get(a, a)} visited {NAMES.get(b, b)} on Tuesday "
                f"for talks on shipping, fisheries and port investment, officials said. {extra}",
        "published_at": when.isoformat(),
    }).encode()


def group_caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """True when the worker's group has committed every record of the topic."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        ends = consumer.end_offsets(tps)
        return all((consumer.committed(tp) or 0) >= ends[tp] for tp in tps)
    finally:
        consumer.close()


@pytest.fixture
def worker_setup(kafka_broker, tmp_path):
    prefix = f"al{uuid.uuid4().hex[:6]}"

    def make(pairs: list[str], **extra: str) -> dict:
        cfg = config_dir(tmp_path, pairs)
        env = worker_env(kafka_broker.bootstrap, prefix, tmp_path / "data",
                         GEOMON_CONFIG_DIR=str(cfg), **extra)
        return {"env": env, "prefix": prefix, "bootstrap": kafka_broker.bootstrap,
                "log": tmp_path / "worker.log"}

    return make


def test_twenty_copies_one_alert_and_a_quiet_period(worker_setup):
    w = worker_setup(["DEU-FRA"])
    copies = [article(f"copy{n}", "FRA", "DEU", T0 + timedelta(minutes=n), f"Outlet {n}",
                      f"Reporting by staff of outlet {n}.") for n in range(20)]
    other_story = json.dumps({
        "id": "other", "source": "Outlet X", "title": "Germany hosts French ministers",
        "text": "Germany hosted the French foreign minister in Berlin on Thursday for a summit "
                "on energy prices, the chancellery said.",
        "published_at": (T0 + timedelta(days=16)).isoformat()}).encode()
    within_quiet = article("within", "FRA", "DEU", T0 + timedelta(days=3), "Outlet W",
                           "A second round is planned for spring.")
    with running_worker(w["env"], w["log"]) as proc:
        produce(w["bootstrap"], f"{w['prefix']}.articles", copies, key=b"same-partition")
        produce(w["bootstrap"], f"{w['prefix']}.articles", [within_quiet, other_story],
                key=b"same-partition")
        records = consume_until(
            w["bootstrap"], f"{w['prefix']}.alerts.DEU-FRA",
            lambda rs: any(json.loads(r.value)["version"] == 21 for r in rs)
            and len({json.loads(r.value)["alert_id"] for r in rs}) >= 2,
            alive=lambda: proc.poll() is None,
        )
    alerts = alert_values(records)
    by_id: dict[str, list[dict]] = {}
    for a in alerts:
        by_id.setdefault(a["alert_id"], []).append(a)
    story = max(by_id.values(), key=len)
    latest = max(story, key=lambda a: a["version"])
    # 20 copies, then the copy 3 days later (same title, inside the 3-day story window): 21
    # versions of one alert, with 21 sources. (Waiting for version 20 alone raced with it.)
    assert latest["version"] == 21
    assert len(latest["sources"]) == 21
    assert sorted(a["version"] for a in story) == list(range(1, 22))
    rules = sorted(v[0]["rule"]["name"] for v in by_id.values())
    # the copy 3 days later is inside the 14-day quiet period: no new first_activity alert
    assert rules.count("first_activity") == 2, rules
    gap = [v[0] for v in by_id.values() if v[0]["rule"]["numbers"].get("gap_days")]
    assert gap and gap[0]["rule"]["numbers"]["gap_days"] > 14


def test_sigkill_mid_stream_loses_no_alert_and_repeats_none(worker_setup):
    pairs = ["-".join(p) for p in PAIRS]
    w = worker_setup(pairs)
    msgs = [article(f"k{i}", a, b, T0 + timedelta(hours=i), f"Wire {i}")
            for i, (a, b) in enumerate(PAIRS)]
    topic = f"{w['prefix']}.alerts"
    with running_worker(w["env"], w["log"]) as proc:
        produce(w["bootstrap"], f"{w['prefix']}.articles", msgs)
        consume_until(w["bootstrap"], topic, lambda rs: len(rs) >= 5,
                      alive=lambda: proc.poll() is None)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with running_worker(w["env"], w["log"].with_suffix(".2.log")) as proc:
        records = consume_until(
            w["bootstrap"], topic,
            lambda rs: len({json.loads(r.value)["alert_id"] for r in rs}) >= len(PAIRS),
            alive=lambda: proc.poll() is None, timeout=180,
        )
        # wait until the restarted worker has committed every event, then read everything
        import time

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not group_caught_up(
                w["bootstrap"], w["env"]["GEOMON_APP_ID"], f"{w['prefix']}.events"):
            time.sleep(0.5)
        records = consume_until(w["bootstrap"], topic, lambda rs: False, timeout=5)
    keys = [(a["alert_id"], a["version"]) for a in alert_values(records)]
    assert len({a for a, _ in keys}) == len(PAIRS), "an alert was lost"
    assert len(keys) == len(set(keys)), "an alert was repeated"


class Hook(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str | None]] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append((body, self.headers.get(SIGNATURE_HEADER)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_signed_delivery_and_dead_endpoint_to_dlq(worker_setup):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dead = free_port()
    secret = "test-secret-" + uuid.uuid4().hex
    w = worker_setup(["DEU-FRA", "ESP-ITA"],
                     GEOMON_WEBHOOK_URLS=f"http://127.0.0.1:{server.server_port}/hook,"
                                         f"http://127.0.0.1:{dead}/down",
                     GEOMON_WEBHOOK_SECRET=secret, GEOMON_WEBHOOK_RETRIES="2",
                     GEOMON_WEBHOOK_BACKOFF="0.05", GEOMON_WEBHOOK_TIMEOUT="2")
    Hook.received = []
    try:
        with running_worker(w["env"], w["log"]) as proc:
            produce(w["bootstrap"], f"{w['prefix']}.articles",
                    [article("h1", "FRA", "DEU", T0, "Wire A"),
                     article("h2", "ESP", "ITA", T0, "Wire B")])
            alerts = consume_until(w["bootstrap"], f"{w['prefix']}.alerts",
                                   lambda rs: len(rs) >= 2, alive=lambda: proc.poll() is None)
            dlq = consume_until(w["bootstrap"], f"{w['prefix']}.alerts.dlq",
                                lambda rs: len(rs) >= 2, alive=lambda: proc.poll() is None)
            import time

            deadline = time.monotonic() + 60
            while len(Hook.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        server.shutdown()
    assert len(alerts) == 2
    assert len(Hook.received) == 2
    for body, header in Hook.received:
        assert verify(body, secret, header)
        assert json.loads(body)["pair"] in {"DEU-FRA", "ESP-ITA"}
    assert not verify(Hook.received[0][0] + b" ", secret, Hook.received[0][1])
    for rec in dlq:
        headers = dict(rec.headers)
        assert headers["geomon-reason"] == b"webhook_failed"
        assert f":{dead}/down".encode() in headers["geomon-detail"]
    assert secret not in w["log"].read_text()


def test_an_edited_watch_list_applies_without_a_restart(worker_setup):
    w = worker_setup(["DEU-FRA"], GEOMON_WATCHLIST_RELOAD="1")
    cfg = w["env"]["GEOMON_CONFIG_DIR"]
    with running_worker(w["env"], w["log"]) as proc:
        produce(w["bootstrap"], f"{w['prefix']}.articles",
                [article("r1", "ESP", "ITA", T0, "Wire A"), article("r2", "FRA", "DEU", T0, "B")])
        first = consume_until(w["bootstrap"], f"{w['prefix']}.alerts", lambda rs: len(rs) >= 1,
                              alive=lambda: proc.poll() is None)
        assert {a["pair"] for a in alert_values(first)} == {"DEU-FRA"}
        path = Path(cfg) / "watchlist.yaml"
        path.write_text("pairs: [{pair: DEU-FRA}, {pair: ITA-ESP, min_confidence: 0.3}]\n",
                        encoding="utf-8")
        import time

        deadline = time.monotonic() + 60
        while "watch list reloaded" not in w["log"].read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        produce(w["bootstrap"], f"{w['prefix']}.articles",
                [article("r3", "ITA", "ESP", T0 + timedelta(days=1), "Wire C")])
        per_pair = consume_until(w["bootstrap"], f"{w['prefix']}.alerts.ESP-ITA",
                                 lambda rs: len(rs) >= 1, alive=lambda: proc.poll() is None)
        path.write_text("pairs: [{pair: DEU-FRA, min_confidence: 7}]\n", encoding="utf-8")
        deadline = time.monotonic() + 60
        while "not reloaded" not in w["log"].read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None
    assert alert_values(per_pair)[0]["pair"] == "ESP-ITA"
    assert "pairs[0].min_confidence" in w["log"].read_text()
