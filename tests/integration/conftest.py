"""The real broker for integration tests: one per session, or an external one.

Why session-scoped: a Kafka JVM takes seconds to start, so every integration
test shares it and isolates itself with unique topic names and groups.  Set
``GEOMON_TEST_BROKER=kafka://host:port`` to run against a broker you manage.
There is deliberately no skip: a broker that cannot start is a fixture error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pytest

from streams.broker import EmbeddedBroker


class BrokerEndpoint(Protocol):
    """What tests need from a broker: where clients and Faust connect."""

    @property
    def bootstrap(self) -> str:
        """``host:port[,host:port]`` for Kafka clients."""
        ...

    @property
    def url(self) -> str:
        """``kafka://host:port[;host:port]`` for Faust."""
        ...


@dataclass(frozen=True)
class ExternalBroker:
    """A broker given by ``GEOMON_TEST_BROKER``; started and stopped by someone else."""

    bootstrap: str
    url: str


def external_broker(value: str) -> ExternalBroker:
    """Parse ``kafka://host:port`` (several hosts joined by ``,`` or ``;``) or ``host:port``."""
    rest = value.strip()
    for scheme in ("kafka://", "aiokafka://"):
        if rest.startswith(scheme):
            rest = rest[len(scheme) :]
            break
    hosts = [h.strip() for h in rest.rstrip("/").replace(";", ",").split(",") if h.strip()]
    if not hosts or any(":" not in h for h in hosts):
        raise pytest.UsageError(
            f"GEOMON_TEST_BROKER must look like kafka://host:port, got {value!r}"
        )
    return ExternalBroker(bootstrap=",".join(hosts), url="kafka://" + ";".join(hosts))


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[BrokerEndpoint]:
    """A started Apache Kafka broker on a free port (or the external one from the env)."""
    external = os.environ.get("GEOMON_TEST_BROKER")
    if external:
        yield external_broker(external)
        return
    broker = EmbeddedBroker(kind="kafka")
    broker.start()  # BrokerError here is a fixture error, with the broker's log tail
    try:
        yield broker
    finally:
        broker.stop()
