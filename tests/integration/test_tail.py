"""`geomon alerts tail` as a subscriber uses it, against the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
from kafka import KafkaProducer

from tests.integration.helpers import worker_env

pytestmark = pytest.mark.integration


def test_tail_since_reads_only_the_recent_alerts_of_a_pair(kafka_broker, tmp_path):
    prefix = f"tl{uuid.uuid4().hex[:6]}"
    env = worker_env(kafka_broker.bootstrap, prefix, tmp_path)
    topic = f"{prefix}.alerts.IRN-PRK"
    now_ms = int(time.time() * 1000)
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    for alert_id, age_h in (("old", 72), ("recent", 1)):
        doc = {"alert_id": alert_id, "version": 1, "pair": "IRN-PRK", "severity": "high",
               "rule": {"name": "first_activity", "reason": "r"}, "summary": "s"}
        producer.send(topic, key=b"IRN-PRK", value=json.dumps(doc).encode(),
                      timestamp_ms=now_ms - age_h * 3600 * 1000)
    producer.flush()
    producer.close()
    out = subprocess.run(
        [sys.executable, "-m", "streams.cli", "alerts", "tail", "--pair", "prk-irn", "--since",
         "1d", "--json", "--timeout", "5"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )
    ids = [json.loads(line)["alert_id"] for line in out.stdout.splitlines()]
    assert ids == ["recent"]
    bad = subprocess.run(
        [sys.executable, "-m", "streams.cli", "alerts", "tail", "--since", "yesterday"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2
    assert "30m, 2h or 7d" in bad.stderr
