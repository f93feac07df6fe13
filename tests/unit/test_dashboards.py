"""The provisioned Grafana dashboards load as Grafana reads them (no Grafana needed)."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from prometheus_client import CollectorRegistry

from streams import metrics as M
from tests import dashboards as D

FILES = D.dashboard_files()
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range"}
PROVIDER = D.REPO_ROOT / "configs" / "grafana" / "provisioning" / "dashboards" / "geomon.yml"


def by_uid() -> dict[str, dict]:
    return {d["uid"]: d for d in map(D.load, FILES)}


def test_the_two_dashboards_are_there_and_nothing_else():
    assert {p.name for p in D.DASHBOARD_DIR.iterdir()} == {
        "geomon-overview.json", "geomon-pair.json"
    }
    assert set(by_uid()) == {"geomon-overview", "geomon-pair"}


def test_provider_folder_is_where_the_dashboards_are_mounted():
    provider = yaml.safe_load(PROVIDER.read_text(encoding="utf-8"))["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_grafana_home_is_the_overview():
    compose = yaml.safe_load((D.REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    mounted = "/var/lib/grafana/dashboards/"
    assert home.startswith(mounted)
    assert (D.DASHBOARD_DIR / home.removeprefix(mounted)).is_file()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_dashboard_shape(path):
    d = json.loads(path.read_text(encoding="utf-8"))  # valid JSON, or this fails
    assert isinstance(d.get("schemaVersion"), int) and d["schemaVersion"] >= 39
    assert re.fullmatch(r"[a-z0-9-]{1,40}", d["uid"])
    assert d["title"] and isinstance(d["panels"], list) and d["panels"]
    assert "id" not in d or d["id"] is None, "provisioned dashboards must not carry a db id"
    panels = list(D.all_panels(d))
    ids = [p.get("id") for p in panels]
    assert all(isinstance(i, int) for i in ids), ids
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {path.name}: {ids}"
    for p in panels:
        grid = p["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, p["title"]
        assert p.get("title"), f"panel {p['id']} has no title"
        assert p.get("description"), f"panel {p['title']} does not say what it means"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_panel_and_target_uses_the_provisioned_datasource(path):
    uids = D.provisioned_datasource_uids()
    assert uids == {"geomon-prometheus"}
    d = D.load(path)
    for p in D.all_panels(d):
        assert p.get("datasource") == {"type": "prometheus", "uid": "geomon-prometheus"}, p["title"]
        targets = p.get("targets") or []
        assert targets, f"panel {p['title']} has no query"
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs)), p["title"]
        for t in targets:
            assert t.get("datasource", {}).get("uid") in uids, f"{p['title']} {t['refId']}"
            assert t.get("expr", "").strip(), f"{p['title']} {t['refId']} has no expression"
    for v in D.variables(d).values():
        if v["type"] == "query":
            assert v["datasource"]["uid"] in uids


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_expressions_use_only_defined_variables_and_real_metric_names(path):
    d = D.load(path)
    defined = set(D.variables(d)) | GRAFANA_BUILTINS
    registry = CollectorRegistry()
    M.Metrics(registry, languages=(), pairs=(), rules=())
    families = list(registry.collect())
    ours = {s.name for f in families for s in f.samples}  # histograms: _bucket, _count, _sum
    ours |= {f"{f.name}_total" for f in families if f.type == "counter"}
    ours |= {f.name for f in families if f.type == "gauge"}
    for q in D.queries(d, path.stem):
        assert D.used_variables(q.expr) <= defined, q.where()
        for name in re.findall(r"\bgeomon_\w+", q.expr):
            assert name in ours, f"{q.where()}: {name} is not a geomon metric"
        assert q.expr.count("(") == q.expr.count(")"), q.where()


def test_the_pair_dashboard_has_the_pair_variable_and_uses_it():
    d = by_uid()["geomon-pair"]
    pair = D.variables(d)["pair"]
    assert pair["type"] == "query"
    assert D.variable_query(pair) == "label_values(geomon_events_total, pair)"
    m = D.LABEL_VALUES.match(D.variable_query(pair))
    assert m and m["match"] == "geomon_events_total" and m["label"] == "pair"
    assert not pair.get("multi") and not pair.get("includeAll")
    filtered = [q for q in D.queries(d, "geomon-pair") if "pair" in D.used_variables(q.expr)]
    assert len(filtered) >= 5


def test_the_overview_covers_what_operators_watch():
    exprs = " ".join(q.expr for q in D.queries(by_uid()["geomon-overview"], "overview"))
    for needed in ["geomon_articles_total", "geomon_events_total", "geomon_alerts_total",
                   "geomon_dlq_total", "geomon_consumer_lag", "geomon_worker_up",
                   "histogram_quantile(0.5, sum by (le) (rate(geomon_coder_seconds_bucket",
                   "histogram_quantile(0.99, sum by (le) (rate(geomon_coder_seconds_bucket",
                   "histogram_quantile(0.5, sum by (le) (rate(geomon_end_to_end_seconds_bucket",
                   "histogram_quantile(0.99, sum by (le) (rate(geomon_end_to_end_seconds_bucket",
                   "sum by (lang)", "sum by (pair)", "sum by (root)", "sum by (reason)",
                   "sum by (pair, rule, severity)"]:
        assert needed in exprs, needed


def test_fill_substitutes_every_form():
    values = {"pair": "IRN-PRK", "__rate_interval": "30s"}
    assert D.fill('x{pair="$pair"}[$__rate_interval]', values) == 'x{pair="IRN-PRK"}[30s]'
    assert D.fill('x{pair="${pair}"} [[pair]]', values) == 'x{pair="IRN-PRK"} IRN-PRK'
    with pytest.raises(KeyError):
        D.fill("$nope", values)
