"""Static checks of the deployment files: docker-compose.yml, Dockerfile, Prometheus, Grafana.

No Docker is needed (nor available in CI): the files are parsed and checked against each
other, against the Compose specification's JSON schema and against ``streams.settings``.

The Compose JSON schema is the copy vendored by the ``check-jsonschema`` package
(``check_jsonschema/builtin_schemas/vendor/compose-spec.json``); it is located without
importing that package (a dev dependency). When the package is not installed the schema test fails and the
structural checks below still run.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PROMETHEUS_FILE = REPO / "configs" / "prometheus" / "prometheus.yml"
GRAFANA_DATASOURCE = (
    REPO / "configs" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
)
GRAFANA_DASHBOARDS = REPO / "configs" / "grafana" / "provisioning" / "dashboards" / "geomon.yml"

ENV_PREFIX = "GEOMON_"
GEOMON_SERVICES = ("worker-1", "worker-2", "ingest")
WORKERS = ("worker-1", "worker-2")
EXPECTED_SERVICES = {"kafka", *GEOMON_SERVICES, "prometheus", "grafana"}
GEOMON_VAR = re.compile(r"\bGEOMON_[A-Z0-9_]+\b")


# --------------------------------------------------------------------------- helpers


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's ``environment`` (mapping or list form) as str -> str."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        out: dict[str, str] = {}
        for item in raw:
            key, _, value = str(item).partition("=")
            out[key] = value
        return out
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


@cache
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    buf = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        logical.append(buf + stripped)
        buf = ""
    if buf:
        logical.append(buf)
    out = []
    for entry in logical:
        instr, _, args = entry.partition(" ")
        out.append((instr.upper(), args.strip()))
    return out


def dockerfile_args(instruction: str) -> list[str]:
    return [args for instr, args in dockerfile_instructions() if instr == instruction]


@cache
def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in dockerfile_args("ENV"):
        tokens = shlex.split(args)
        if tokens and "=" not in tokens[0]:  # legacy "ENV KEY value" form
            env[tokens[0]] = " ".join(tokens[1:])
            continue
        for token in tokens:
            key, _, value = token.partition("=")
            env[key] = value
    return env


def effective_env(name: str) -> dict[str, str]:
    """Environment a geomon container gets: the image's ENV, overridden by compose."""
    service = services()[name]
    env = dict(dockerfile_env()) if "build" in service else {}
    env.update(env_of(service))
    return env


def build_context(service: dict[str, Any]) -> str | None:
    build = service.get("build")
    if build is None:
        return None
    return build if isinstance(build, str) else build.get("context", ".")


def parse_port(entry: Any) -> tuple[int | None, int]:
    """(published host port or None, container port) of one ``ports`` entry."""
    if isinstance(entry, dict):
        published = entry.get("published")
        return (int(published) if published is not None else None, int(entry["target"]))
    text = str(entry).split("/", 1)[0]
    parts = text.rsplit(":", 2)
    if len(parts) == 1:
        return None, int(parts[0])
    return int(parts[-2]), int(parts[-1])


def mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, source, target) of a service's volumes; type is "bind" or "volume"."""
    out = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            kind = entry.get("type", "volume")
            out.append((kind, str(entry.get("source", "")), str(entry["target"])))
            continue
        parts = str(entry).split(":")
        if len(parts) == 1:  # anonymous volume
            out.append(("volume", "", parts[0]))
            continue
        source, target = parts[0], parts[1]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append((kind, source, target))
    return out


def bind_source(service: str, target: str) -> Path:
    for kind, source, tgt in mounts(services()[service]):
        if kind == "bind" and tgt == target:
            return (REPO / source).resolve()
    raise AssertionError(f"{service}: nothing is bind-mounted at {target}")


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return {name: {"condition": "service_started"} for name in raw}
    return {name: (spec or {"condition": "service_started"}) for name, spec in raw.items()}


def command_of(name: str) -> list[str]:
    service = services()[name]
    command = service.get("command")
    if command is None and "build" in service:
        return json.loads(dockerfile_args("CMD")[-1])
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def settings_class() -> Any:
    try:
        from streams.settings import Settings
    except ImportError as exc:  # pragma: no cover - only while the module is missing
        pytest.fail(f"streams.settings.Settings is needed for this check: {exc}")
    return Settings


def settings_default(field: str) -> Any:
    return settings_class().model_fields[field].default


def web_port(name: str) -> int:
    value = effective_env(name).get("GEOMON_WEB_PORT")
    return int(value) if value is not None else int(settings_default("web_port"))


def compose_schema_path() -> Path | None:
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "builtin_schemas" / "vendor" / "compose-spec.json"
        if candidate.is_file():
            return candidate
    return None


# --------------------------------------------------------------------------- compose: schema


def test_compose_file_is_valid_against_compose_spec_schema() -> None:
    import jsonschema

    path = compose_schema_path()
    assert path is not None, "Compose JSON schema not found: install the dev extra"
    schema = json.loads(path.read_text(encoding="utf-8"))
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    errors = sorted(
        validator_cls(schema).iter_errors(compose()), key=lambda e: list(e.absolute_path)
    )
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
    )


def test_compose_has_no_obsolete_version_key_and_expected_services() -> None:
    assert "version" not in compose(), "the Compose spec has no 'version:' key any more"
    assert set(services()) == EXPECTED_SERVICES


def test_service_names_and_keys_are_well_formed() -> None:
    for name, service in services().items():
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name), name
        assert isinstance(service, dict), name
        assert ("image" in service) or ("build" in service), f"{name}: needs image or build"


# --------------------------------------------------------------------------- compose: images


def test_images() -> None:
    svc = services()
    assert svc["kafka"]["image"] == "apache/kafka:3.9.1"
    assert str(svc["prometheus"]["image"]).startswith("prom/prometheus")
    assert str(svc["grafana"]["image"]).startswith("grafana/grafana")
    for name in ("kafka", "prometheus", "grafana"):
        assert "build" not in svc[name], f"{name} uses an upstream image"


def test_geomon_services_build_from_repo_dockerfile() -> None:
    for name in GEOMON_SERVICES:
        context = build_context(services()[name])
        assert context is not None, f"{name} must be built from the repo"
        assert (REPO / context).resolve() == REPO, f"{name}: build context {context!r}"
        build = services()[name]["build"]
        dockerfile = (
            build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        )
        assert (REPO / context / dockerfile).is_file()
    images = {services()[name].get("image") for name in GEOMON_SERVICES}
    assert len(images) == 1, f"geomon services should share one image tag, got {images}"


# --------------------------------------------------------------------------- compose: kafka


def test_kafka_is_single_node_kraft() -> None:
    env = env_of(services()["kafka"])
    node_id = env["KAFKA_NODE_ID"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    listeners = set(env["KAFKA_LISTENERS"].split(","))
    assert {"PLAINTEXT://:9092", "CONTROLLER://:9093"} <= listeners
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node_id}@kafka:9093"
    protocol_map = dict(
        item.split(":", 1) for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert protocol_map.get("CONTROLLER") == "PLAINTEXT"
    assert protocol_map.get("PLAINTEXT") == "PLAINTEXT"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    cluster_id = env.get("CLUSTER_ID")
    if cluster_id is not None:  # kafka-storage.sh random-uuid: 16 bytes, base64url, no padding
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id), cluster_id


def test_kafka_data_on_named_volume_and_log_dirs_point_there() -> None:
    kafka = services()["kafka"]
    named = {tgt: src for kind, src, tgt in mounts(kafka) if kind == "volume" and src}
    assert "/var/lib/kafka/data" in named, "kafka data must live on a named volume"
    log_dirs = env_of(kafka).get("KAFKA_LOG_DIRS", "/tmp/kraft-combined-logs")  # image default
    assert log_dirs.startswith("/var/lib/kafka/data"), "KAFKA_LOG_DIRS must be on the volume"


def test_kafka_healthcheck_uses_broker_api_versions() -> None:
    check = services()["kafka"]["healthcheck"]
    test = check["test"]
    text = " ".join(test) if isinstance(test, list) else str(test)
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in text
    assert "--bootstrap-server localhost:9092" in text


def test_geomon_services_use_the_compose_broker() -> None:
    advertised = env_of(services()["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    host_port = advertised.removeprefix("PLAINTEXT://")
    for name in GEOMON_SERVICES:
        assert effective_env(name)["GEOMON_BROKER"] == f"kafka://{host_port}", name


# --------------------------------------------------------------------------- compose: ports


def test_published_host_ports_are_unique() -> None:
    seen: dict[int, str] = {}
    for name, service in services().items():
        for entry in service.get("ports") or []:
            host, _ = parse_port(entry)
            if host is None:
                continue
            assert host not in seen, f"host port {host} used by {seen[host]} and {name}"
            seen[host] = name


def test_workers_publish_their_web_port_on_distinct_host_ports() -> None:
    hosts = []
    for name in WORKERS:
        env = effective_env(name)
        assert env.get("GEOMON_WEB_HOST") == "0.0.0.0", f"{name} must listen on all interfaces"
        ports = [parse_port(p) for p in services()[name].get("ports") or []]
        targets = {container: host for host, container in ports}
        port = web_port(name)
        assert port in targets, f"{name}: web port {port} not published ({ports})"
        hosts.append(targets[port])
    assert len(set(hosts)) == len(WORKERS)


def test_prometheus_and_grafana_ports() -> None:
    assert (9090, 9090) in [parse_port(p) for p in services()["prometheus"]["ports"]]
    assert (3000, 3000) in [parse_port(p) for p in services()["grafana"]["ports"]]


# --------------------------------------------------------------------------- compose: volumes


def test_named_volumes_are_declared_and_used() -> None:
    declared = set((compose().get("volumes") or {}).keys())
    used = {
        source
        for service in services().values()
        for kind, source, _ in mounts(service)
        if kind == "volume" and source
    }
    assert used <= declared, f"undeclared named volumes: {sorted(used - declared)}"
    assert declared <= used, f"declared but unused volumes: {sorted(declared - used)}"


def test_bind_mounted_host_paths_exist_in_repo() -> None:
    for name, service in services().items():
        for kind, source, _ in mounts(service):
            if kind != "bind":
                continue
            assert not source.startswith(("/", "~")), f"{name}: {source} is outside the repo"
            path = (REPO / source).resolve()
            assert path.is_relative_to(REPO), f"{name}: {source} is outside the repo"
            assert path.exists(), f"{name}: {source} does not exist"


# --------------------------------------------------------------------------- compose: order


def test_depends_on_conditions() -> None:
    svc = services()
    for name in WORKERS:
        assert depends_on(svc[name])["kafka"]["condition"] == "service_healthy"
    ingest = depends_on(svc["ingest"])
    assert ingest["kafka"]["condition"] == "service_healthy"
    assert ingest["worker-1"]["condition"] == "service_started"
    assert "prometheus" in depends_on(svc["grafana"])


def test_depends_on_targets_exist_have_healthchecks_and_no_cycles() -> None:
    svc = services()
    for name, service in svc.items():
        for target, spec in depends_on(service).items():
            assert target in svc, f"{name} depends on unknown service {target}"
            if spec.get("condition") == "service_healthy":
                assert "healthcheck" in svc[target], f"{target} has no healthcheck"
            if spec.get("condition") == "service_completed_successfully":
                assert svc[target].get("restart", "no") == "no"

    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, f"depends_on cycle: {' -> '.join((*path, node))}"
        state[node] = 1
        for nxt in depends_on(svc[node]):
            visit(nxt, (*path, node))
        state[node] = 2

    for name in svc:
        visit(name, ())


def test_ingest_is_one_shot_over_the_image_samples() -> None:
    ingest = services()["ingest"]
    assert ingest["command"] == ["ingest", "/app/samples/articles"]
    # "no" must be quoted: unquoted YAML 1.1 `no` is the boolean false.
    assert ingest["restart"] == "no"
    copies = [shlex.split(args) for args in dockerfile_args("COPY")]
    assert any(c[-1].rstrip("/") == "/app/samples" for c in copies), "image lacks /app/samples"
    assert (REPO / "samples" / "articles").is_dir()


def test_workers_run_the_worker_command() -> None:
    for name in WORKERS:
        assert command_of(name) == ["worker"], name


# --------------------------------------------------------------------------- settings contract


def geomon_vars_in_deployment() -> dict[str, set[str]]:
    """GEOMON_* names -> where they are used (compose services, compose text, Dockerfile)."""
    found: dict[str, set[str]] = {}
    for name, service in services().items():
        for key in env_of(service):
            if key.startswith(ENV_PREFIX):
                found.setdefault(key, set()).add(f"compose:{name}")
    for key in GEOMON_VAR.findall(COMPOSE_FILE.read_text(encoding="utf-8")):
        found.setdefault(key, set()).add("compose")
    for key in dockerfile_env():
        if key.startswith(ENV_PREFIX):
            found.setdefault(key, set()).add("Dockerfile:ENV")
    for _, args in dockerfile_instructions():
        for key in GEOMON_VAR.findall(args):
            found.setdefault(key, set()).add("Dockerfile")
    return found


def test_every_geomon_variable_is_a_settings_field() -> None:
    settings = settings_class()
    prefix = str(settings.model_config.get("env_prefix") or ENV_PREFIX)
    assert prefix.upper() == ENV_PREFIX
    fields = set(settings.model_fields)
    used = geomon_vars_in_deployment()
    assert used, "expected GEOMON_* variables in docker-compose.yml and Dockerfile"
    unknown = {
        key: sorted(where)
        for key, where in used.items()
        if key.removeprefix(ENV_PREFIX).lower() not in fields
    }
    assert not unknown, f"not fields of streams.settings.Settings: {unknown}"


@pytest.mark.parametrize("name", GEOMON_SERVICES)
def test_settings_parse_each_service_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_class()
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    env = effective_env(name)
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            monkeypatch.setenv(key, value)
    s = settings()
    assert s.broker == env["GEOMON_BROKER"]
    assert Path(s.config_dir) == Path("/app/configs")
    assert s.web_host == "0.0.0.0"
    if name in WORKERS:
        assert s.web_port == web_port(name)


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_shape() -> None:
    stages = dockerfile_args("FROM")
    # a full python stage builds the wheel (mypyc needs gcc); the slim image installs it
    assert stages[-1].split()[0] == "python:3.11-slim"
    runs = " ".join(dockerfile_args("RUN"))
    assert re.search(r"\bpip wheel (--\S+ |-w \S+ )*\.(\s|$)", runs), "must build the wheel"
    assert re.search(r"\bpip install /wheels/\*\.whl", runs), "must install the wheel"
    assert any("--from=build" in args for args in dockerfile_args("COPY"))
    users = dockerfile_args("USER")
    assert users, "image must not run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    env = dockerfile_env()
    assert env["GEOMON_CONFIG_DIR"] == "/app/configs"
    assert env["GEOMON_WEB_HOST"] == "0.0.0.0"
    exposed = {int(p.split("/")[0]) for args in dockerfile_args("EXPOSE") for p in args.split()}
    assert 6066 in exposed
    assert int(env.get("GEOMON_WEB_PORT", settings_default("web_port"))) in exposed
    assert json.loads(dockerfile_args("ENTRYPOINT")[-1]) == ["geomon"]
    assert json.loads(dockerfile_args("CMD")[-1]) == ["worker"]
    targets = {shlex.split(args)[-1].rstrip("/") for args in dockerfile_args("COPY")}
    assert {"/app/configs", "/app/samples"} <= targets


def test_console_script_exists_for_entrypoint() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "geomon" in project["project"]["scripts"]


def test_dockerignore_keeps_what_the_build_needs() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert ".git" in patterns

    def ignored(rel: str) -> bool:
        verdict = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pat = pattern.lstrip("!").strip("/")
            candidates = [pat] + ([pat[3:]] if pat.startswith("**/") else [])
            parts = PurePosixPath(rel).parts
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            if any(fnmatch.fnmatch(p, c) for p in prefixes for c in candidates):
                verdict = not negate
        return verdict

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    needed = ["pyproject.toml", "streams/settings.py", "alerts", "configs", "samples/articles"]
    readme = project["project"].get("readme")
    if isinstance(readme, str):
        needed.append(readme)
    for rel in needed:
        assert not ignored(rel), f".dockerignore excludes {rel}, which the image needs"


# --------------------------------------------------------------------------- Prometheus


def test_prometheus_config_is_the_mounted_one() -> None:
    source = bind_source("prometheus", "/etc/prometheus/prometheus.yml")
    assert source == PROMETHEUS_FILE.resolve()


def test_prometheus_scrapes_each_worker_on_its_web_port() -> None:
    config = load_yaml(PROMETHEUS_FILE)
    assert config["global"]["scrape_interval"] == "5s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs["geomon"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    hosts = set()
    for target in targets:
        host, _, port = target.rpartition(":")
        assert host in services(), f"{target}: {host} is not a compose service"
        assert int(port) == web_port(host), f"{target}: {host} listens on {web_port(host)}"
        hosts.add(host)
    assert hosts == set(WORKERS)


# --------------------------------------------------------------------------- Grafana


def test_grafana_anonymous_viewer_and_mounts() -> None:
    grafana = services()["grafana"]
    env = env_of(grafana)
    assert env["GF_AUTH_ANONYMOUS_ENABLED"].lower() == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    provisioning = bind_source("grafana", "/etc/grafana/provisioning")
    assert provisioning == (REPO / "configs" / "grafana" / "provisioning").resolve()
    dashboards = bind_source("grafana", "/var/lib/grafana/dashboards")
    assert dashboards == (REPO / "configs" / "grafana" / "dashboards").resolve()
    assert GRAFANA_DATASOURCE.resolve().is_relative_to(provisioning)
    assert GRAFANA_DASHBOARDS.resolve().is_relative_to(provisioning)


def test_grafana_datasource_points_at_compose_prometheus() -> None:
    config = load_yaml(GRAFANA_DATASOURCE)
    assert config["apiVersion"] == 1
    sources = config["datasources"]
    by_uid = {ds["uid"]: ds for ds in sources}
    ds = by_uid["geomon-prometheus"]
    assert ds["type"] == "prometheus"
    assert ds["url"] == "http://prometheus:9090"
    assert ds.get("isDefault") is True
    assert sum(1 for s in sources if s.get("isDefault")) == 1
    container_ports = {parse_port(p)[1] for p in services()["prometheus"]["ports"]}
    assert 9090 in container_ports


def test_grafana_dashboard_provider_reads_mounted_folder() -> None:
    config = load_yaml(GRAFANA_DASHBOARDS)
    assert config["apiVersion"] == 1
    providers = config["providers"]
    assert providers, "at least one dashboard provider"
    for provider in providers:
        assert provider["type"] == "file"
        assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
