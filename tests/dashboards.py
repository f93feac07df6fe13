"""Reading the provisioned Grafana dashboards as Grafana does: panels, targets, variables.

Shared by tests/unit/test_dashboards.py (static checks) and tests/integration/test_prometheus.py
(every expression run against a real Prometheus).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from streams.settings import REPO_ROOT

DASHBOARD_DIR = REPO_ROOT / "configs" / "grafana" / "dashboards"
DATASOURCES = REPO_ROOT / "configs" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"

#: $name, ${name}, ${name:format} and the legacy [[name]]
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]")
#: label_values(metric, label) or label_values(label): a Grafana variable query, not PromQL
LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<match>[^,]+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$")


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard, and where it is."""

    dashboard: str
    panel_id: int
    panel_title: str
    ref_id: str
    expr: str

    def where(self) -> str:
        return f"{self.dashboard} panel {self.panel_id} ({self.panel_title}) {self.ref_id}"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: a dashboard is a JSON object"
    return data


def provisioned_datasource_uids() -> set[str]:
    config = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))
    return {ds["uid"] for ds in config["datasources"]}


def all_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: Mapping[str, Any], name: str) -> list[Query]:
    return [
        Query(name, panel["id"], panel.get("title", ""), target.get("refId", "?"), target["expr"])
        for panel in all_panels(dashboard)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def variables(dashboard: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}


def variable_query(variable: Mapping[str, Any]) -> str:
    query = variable.get("query")
    if isinstance(query, dict):
        return str(query.get("query", ""))
    return str(query or variable.get("definition", ""))


def used_variables(text: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in VARIABLE.finditer(text)}


def fill(expr: str, values: Mapping[str, str]) -> str:
    """Substitute template variables as Grafana would before sending the query."""

    def sub(m: re.Match[str]) -> str:
        name = next(g for g in m.groups() if g)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]

    return VARIABLE.sub(sub, expr)
