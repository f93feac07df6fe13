"""A real Prometheus scrapes a real worker; every dashboard expression returns data.

Debian's ``prometheus`` package provides the server (``make test`` installs it); it runs here
as a plain process on a free loopback port with a generated config that scrapes one worker
every second while the samples (and a few bad messages) flow through the pipeline.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from alerts.watchlist import load_watchlist
from streams import metrics as M
from streams.broker import free_port, stop_process
from tests import dashboards as D
from tests.conftest import CONFIG_DIR, SAMPLES_DIR
from tests.integration.helpers import produce, running_worker, worker_env

pytestmark = pytest.mark.integration

T = TypeVar("T")
BAD = [b"\xff\xfe broken", b"ok\x00\x00binary", b'{"text": 5}', b"{not json", b"   "]
GRAFANA_VALUES = {"__rate_interval": "30s", "__interval": "5s", "__range": "10m"}


def wait_for(check: Callable[[], T | None], what: str, timeout: float,
             alive: Callable[[], bool] = lambda: True, every: float = 0.5) -> T:
    """Poll *check* until it returns something not None; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if not alive():
            raise AssertionError(f"a process died while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def http_get(url: str, timeout: float = 5.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback only
            return resp.read()
    except OSError:
        return None


class Prometheus:
    """The HTTP API of a running Prometheus."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log

    def alive(self) -> bool:
        return self.proc.poll() is None

    def api(self, path: str, **params: str) -> Any:
        body = http_get(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}")
        if body is None:
            return None
        reply = json.loads(body)
        assert reply["status"] == "success", reply
        return reply["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        if data is None:
            return []
        assert data["resultType"] in ("vector", "matrix", "scalar"), data
        return data["result"] if data["resultType"] != "scalar" else [data["result"]]


@contextmanager
def running_prometheus(tmp: Path, target: str) -> Iterator[Prometheus]:
    """Debian's prometheus binary on a free loopback port, scraping *target* every second."""
    binary = shutil.which("prometheus")
    assert binary, "no prometheus binary: `make test` installs Debian's prometheus package"
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "geomon", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [target]}]}],
    }
    cfg = tmp / "prometheus.yml"
    cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
    log = tmp / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT,
        )
        prom = Prometheus(f"http://127.0.0.1:{port}", proc, log)
        try:
            wait_for(lambda: http_get(f"{prom.url}/-/ready") and True, "Prometheus ready", 60,
                     prom.alive)
            yield prom
        finally:
            stop_process(proc)


@pytest.fixture(scope="module")
def scraped(kafka_broker, tmp_path_factory):
    """A worker on its own topic prefix, scraped by Prometheus while the samples flow."""
    prefix = f"pm{uuid.uuid4().hex[:6]}"
    tmp = tmp_path_factory.mktemp("prometheus")
    env = worker_env(kafka_broker.bootstrap, prefix, tmp / "data")
    metrics_url = f"http://127.0.0.1:{env['GEOMON_WEB_PORT']}/metrics"
    with running_worker(env, tmp / "worker.log") as worker:

        def alive() -> bool:
            return worker.poll() is None

        wait_for(lambda: http_get(metrics_url), "the worker's /metrics", 120, alive)
        with running_prometheus(tmp, f"127.0.0.1:{env['GEOMON_WEB_PORT']}") as prom:

            def both() -> bool:
                return alive() and prom.alive()

            def target_up() -> bool | None:
                targets = (prom.api("targets") or {}).get("activeTargets", [])
                return True if targets and all(t["health"] == "up" for t in targets) else None

            wait_for(target_up, "the worker target to be up", 60, both)
            subprocess.run(
                [sys.executable, "-m", "streams.cli", "ingest", str(SAMPLES_DIR / "articles")],
                env=env, check=True, capture_output=True, timeout=120,
            )
            produce(kafka_broker.bootstrap, f"{prefix}.articles", BAD)
            yield {"prom": prom, "worker": worker, "alive": both, "metrics_url": metrics_url,
                   "worker_log": tmp / "worker.log"}


def test_one_metrics_page_carries_geomon_and_faust_metrics(scraped):
    # the event loop may be busy for a few seconds (the coder loads on the first article)
    text = wait_for(lambda: http_get(scraped["metrics_url"]), "/metrics", 60, scraped["alive"])
    names = {line.split("{")[0].split(" ")[0] for line in text.decode().splitlines()
             if line and not line.startswith("#")}
    assert {"geomon_build_info", "geomon_worker_up", "faust_messages_received_total"} <= names
    # a scrape that times out marks the series stale for a moment: poll
    wait_for(lambda: scraped["prom"].query("geomon_worker_up == 1") or None,
             "geomon_worker_up == 1 in Prometheus", 60, scraped["alive"])


def test_every_dashboard_expression_returns_a_series(scraped):
    prom: Prometheus = scraped["prom"]
    alive = scraped["alive"]

    def alerted_pair() -> str | None:
        """A pair the pair variable offers and that has alerts, once both are scraped."""
        offered = prom.api("label/pair/values", **{"match[]": "geomon_events_total"}) or []
        alerted = {s["metric"]["pair"] for s in prom.query("geomon_alerts_total")}
        both = sorted(p for p in offered if p in alerted and p != "other")
        return both[0] if both else None

    pair = wait_for(alerted_pair, "an alert scraped for a watched pair", 180, alive)
    values = {**GRAFANA_VALUES, "pair": pair}
    queries = [q for path in D.dashboard_files() for q in D.queries(D.load(path), path.stem)]
    assert len(queries) >= 20

    def empty() -> list[str]:
        return [f"{q.where()}: {D.fill(q.expr, values)}" for q in queries
                if not prom.query(D.fill(q.expr, values))]

    last: list[str] = []

    def all_have_data() -> bool | None:
        nonlocal last
        last = empty()
        return True if not last else None

    try:
        wait_for(all_have_data, "every dashboard expression to return data", 180, alive, every=1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still empty:\n" + "\n".join(last)) from None


def test_the_pair_variable_query_offers_watched_pairs(scraped):
    prom: Prometheus = scraped["prom"]
    d = D.load(D.DASHBOARD_DIR / "geomon-pair.json")
    m = D.LABEL_VALUES.match(D.variable_query(D.variables(d)["pair"]))
    assert m, "the pair variable must be a label_values() query"
    offered = prom.api(f"label/{m['label']}/values", **{"match[]": m["match"]})
    assert "IRN-PRK" in offered


def test_the_numbers_behind_the_panels_add_up(scraped):
    prom: Prometheus = scraped["prom"]
    n_samples = len(list((SAMPLES_DIR / "articles").iterdir()))

    def scalar(expr: str) -> float:
        result = prom.query(expr)
        return float(result[0]["value"][1]) if result else 0.0

    def settled() -> bool | None:
        ok = scalar("sum(geomon_articles_total)") >= n_samples + len(BAD)
        dlq = scalar("sum(geomon_dlq_total)") >= len(BAD)
        e2e = scalar("sum(geomon_end_to_end_seconds_count)") >= 1
        lag = prom.query("geomon_consumer_lag")
        return True if ok and dlq and e2e and lag else None

    wait_for(settled, "articles, dead letters, latency and lag to be scraped", 180,
             scraped["alive"], every=1)
    reasons = {s["metric"]["reason"] for s in prom.query("geomon_dlq_total")}
    assert {"not_utf8", "binary", "schema", "invalid_json", "empty"} <= reasons
    # the end-to-end latency of an alert caused by the samples: seconds, not hours
    assert 0 < scalar("max(geomon_end_to_end_seconds_sum / geomon_end_to_end_seconds_count)") < 600
    # no label takes a value outside its bounded set, also on the wire
    langs = {s["metric"]["lang"] for s in prom.query("geomon_articles_total")}
    assert langs <= M.lexicon_languages(CONFIG_DIR) | {"other"}
    pairs = {s["metric"]["pair"] for s in prom.query("geomon_events_total")}
    assert pairs <= set(load_watchlist(CONFIG_DIR / "watchlist.yaml").pairs) | {"other"}
