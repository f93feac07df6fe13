"""Issue 7 security on a real worker: secrets never logged, web/metrics bound where configured.

One `geomon worker` runs at debug level with recognisable secrets (a webhook secret read from a
file, and a SASL password in the environment that PLAINTEXT leaves unused), binds its web port
to 127.0.0.2, and processes an article whose alert is POSTed to a local webhook. The whole log,
the /metrics page and repr(Settings()) must not contain a secret; the webhook's signature proves
the file's secret was the one used; every listening socket of the worker is on 127.0.0.2 and the
port is not reachable on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.request
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from alerts.sinks import verify
from streams.broker import free_port
from streams.settings import Settings
from tests.integration.helpers import consume_until, produce, running_worker, worker_env
from tests.integration.test_alerts import T0, Hook, article, config_dir

pytestmark = pytest.mark.integration

BIND = "127.0.0.2"


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, from /proc (no psutil)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            raw = bytes.fromhex(addr_hex)
            if family == socket.AF_INET:
                raw = raw[::-1]  # little-endian u32
            else:
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
            found.add((socket.inet_ntop(family, raw), int(port_hex, 16)))
    return found


def refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except OSError:
        return True


def test_worker_logs_no_secret_and_binds_the_configured_address(kafka_broker, tmp_path):
    webhook_secret = "whsec-" + uuid.uuid4().hex
    sasl_secret = "saslpw-" + uuid.uuid4().hex
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_text(webhook_secret + "\n", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hook.received = []
    prefix = f"sec{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = worker_env(kafka_broker.bootstrap, prefix, tmp_path / "data",
                     GEOMON_CONFIG_DIR=str(config_dir(tmp_path, ["DEU-FRA"])),
                     GEOMON_LOG_LEVEL="debug", GEOMON_WEB_HOST=BIND, GEOMON_WEB_PORT=str(port),
                     GEOMON_WEBHOOK_URLS=f"http://127.0.0.1:{server.server_port}/hook",
                     GEOMON_WEBHOOK_SECRET_FILE=str(secret_file),
                     GEOMON_SASL_PASSWORD=sasl_secret)
    log_path = tmp_path / "worker.log"
    try:
        with running_worker(env, log_path) as proc:
            produce(kafka_broker.bootstrap, f"{prefix}.articles",
                    [article("s1", "FRA", "DEU", T0, "Wire S")])
            alerts = consume_until(kafka_broker.bootstrap, f"{prefix}.alerts",
                                   lambda rs: len(rs) >= 1, alive=lambda: proc.poll() is None)
            assert alerts, "no alert"
            deadline = time.monotonic() + 60
            while not Hook.received and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            # the web/metrics port: served on the configured address, and only there
            deadline = time.monotonic() + 60
            metrics = ""
            while not metrics and time.monotonic() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://{BIND}:{port}/metrics", timeout=5) as r:
                        metrics = r.read().decode()
                except OSError:
                    time.sleep(0.2)
            assert "geomon_worker_up" in metrics
            listening = listening_addresses(proc.pid)
            assert (BIND, port) in listening, listening
            assert {a for a, _ in listening} == {BIND}, f"a socket listens elsewhere: {listening}"
            assert refused("127.0.0.1", port), "the web port answers on 127.0.0.1 too"
    finally:
        server.shutdown()
    assert Hook.received, "the webhook got nothing"
    body, signature = Hook.received[0]
    assert verify(body, webhook_secret, signature), "not signed with the secret from the file"
    text = log_path.read_text(errors="replace")
    assert "DEBUG" in text or "[DEBUG]" in text, "the worker did not log at debug level"
    for secret in (webhook_secret, sasl_secret):
        assert secret not in text, "a secret is in the worker's log"
        assert secret not in metrics
    # the settings object the worker builds from this environment shows no secret either
    old = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        s = Settings()
        shown = repr(s) + str(s) + s.model_dump_json()
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert s.webhook_secret is not None and s.webhook_secret.get_secret_value() == webhook_secret
    assert webhook_secret not in shown and sasl_secret not in shown
