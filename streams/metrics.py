"""Prometheus metrics of a worker: one explicit registry per app, seconds, bounded labels.

Every label value comes from a set fixed by the configuration, never from the data: languages
are those with a trigger lexicon in configs/lexicons (anything else is ``other``), pairs are the
watched pairs (anything else is ``other``), roots are the 20 CAMEO roots, DLQ reasons are
``streams.normalize.Reason`` plus the agents' own (``schema``, ``coder_error``), rules are the
watch list's rule names, severities the ``Severity`` literal. ``bounded`` maps a value outside
its set to ``other``; tests/unit/test_metrics.py feeds ids, urls and garbage through the agents
and checks that no label can take a value outside these sets.

Faust's own sensor (``faust.sensors.prometheus``) registers its metrics, prefixed ``faust_`` and
in milliseconds, in the same registry, and owns the one ``/metrics`` page of the worker's web
server; ``install`` sets both up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.coding import CODER_VERSION
from streams.normalize import Reason
from streams.records import Alert, CodedEvent, Severity, utcnow

log = logging.getLogger(__name__)

OTHER = "other"
ROOTS = frozenset(f"{n:02d}" for n in range(1, 21))
STATUSES = frozenset({"ok", "dlq"})
AGENT_DLQ_REASONS = frozenset({"schema", "coder_error"})
DLQ_REASONS = frozenset(r.value for r in Reason) | AGENT_DLQ_REASONS
SEVERITIES = frozenset(get_args(Severity))
LAG_INTERVAL = 5.0  # seconds between consumer lag refreshes
FAUST_PREFIX = "faust"  # Faust's sensor metrics: faust_messages_received_total, …

#: Coder time per article: mostly milliseconds, a slow article takes a second or more.
CODER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Ingest to alert: sub-second when the worker keeps up, minutes when it catches up.
END_TO_END_BUCKETS = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)

T = TypeVar("T")


def bounded(value: str | None, allowed: Collection[str]) -> str:
    """The value when it is one of the allowed ones, else ``other``."""
    return value if value is not None and value in allowed else OTHER


def lexicon_languages(config_dir: Path) -> frozenset[str]:
    """Languages with a trigger lexicon (configs/lexicons/<lang>.yaml): the ``lang`` values."""
    return frozenset(p.stem for p in (config_dir / "lexicons").glob("*.yaml"))


def geomon_version() -> str:
    """The installed package's version (the source tree's when not installed)."""
    try:
        return version("geomon")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        from streams import __version__

        return __version__


class Metrics:
    """geomon's metrics in one registry, with the bounded label sets they may take."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        languages: Iterable[str],
        pairs: Iterable[str] | Callable[[], Collection[str]],
        rules: Iterable[str],
    ) -> None:
        self.registry = registry
        self.languages = frozenset(languages)
        if callable(pairs):
            self._pairs = pairs
        else:
            fixed = frozenset(pairs)
            self._pairs = lambda: fixed
        self.rules = frozenset(rules)
        self.lag_topics: frozenset[str] = frozenset()
        self.articles = Counter(
            "geomon_articles",
            "Articles read from the articles topic, by language and normalize verdict.",
            ["lang", "status"],
            registry=registry,
        )
        self.dlq = Counter(
            "geomon_dlq",
            "Records written to the articles DLQ, by reason.",
            ["reason"],
            registry=registry,
        )
        self.events = Counter(
            "geomon_events",
            "CodedEvents produced, by pair (watched pairs, else other) and CAMEO root.",
            ["pair", "root"],
            registry=registry,
        )
        self.alerts = Counter(
            "geomon_alerts",
            "Alerts emitted, by pair, rule and severity.",
            ["pair", "rule", "severity"],
            registry=registry,
        )
        self.coder_seconds = Histogram(
            "geomon_coder_seconds",
            "Time the coder takes for one article.",
            buckets=CODER_BUCKETS,
            registry=registry,
        )
        self.end_to_end_seconds = Histogram(
            "geomon_end_to_end_seconds",
            "From an article's ingested_at to the alert it caused being emitted.",
            buckets=END_TO_END_BUCKETS,
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "geomon_consumer_lag",
            "Records not yet fetched by this worker: highwater - position, summed per topic.",
            ["topic"],
            registry=registry,
        )
        self.build_info = Gauge(
            "geomon_build_info",
            "Always 1; the labels say which geomon and coder versions run.",
            ["version", "coder_version"],
            registry=registry,
        )
        self.worker_up = Gauge(
            "geomon_worker_up",
            "1 while the worker's app is started.",
            registry=registry,
        )
        self.build_info.labels(version=geomon_version(), coder_version=CODER_VERSION).set(1)
        # Children of the per-article counters, by label values: ``labels()`` takes a lock and
        # builds a key on every call, and these are counted for every article and event.
        self._ok_children: dict[str, Any] = {}
        self._event_children: dict[tuple[str, str], Any] = {}

    def label_values(self) -> dict[str, dict[str, frozenset[str]]]:
        """Every label of every geomon metric and the values it may take (for tests, docs)."""
        langs = self.languages | {OTHER}
        pairs = self.pairs | {OTHER}
        return {
            "geomon_articles": {"lang": langs, "status": STATUSES},
            "geomon_dlq": {"reason": DLQ_REASONS | {OTHER}},
            "geomon_events": {"pair": pairs, "root": ROOTS | {OTHER}},
            "geomon_alerts": {
                "pair": pairs,
                "rule": self.rules | {OTHER},
                "severity": SEVERITIES | {OTHER},
            },
            "geomon_build_info": {
                "version": frozenset({geomon_version()}),
                "coder_version": frozenset({CODER_VERSION}),
            },
            "geomon_coder_seconds": {},
            "geomon_end_to_end_seconds": {},
            "geomon_worker_up": {},
            "geomon_consumer_lag": {"topic": self.lag_topics},
        }

    @property
    def pairs(self) -> frozenset[str]:
        """The watched pairs now (they follow a reloaded watch list): the ``pair`` values."""
        return frozenset(self._pairs())

    # --- one-line calls from the agents ---------------------------------------------------

    def article_ok(self, lang: str) -> None:
        """Count an article the normalize agent accepted."""
        lang = bounded(lang, self.languages)
        child = self._ok_children.get(lang)
        if child is None:
            child = self._ok_children[lang] = self.articles.labels(lang=lang, status="ok")
        child.inc()

    def article_rejected(self, reason: str) -> None:
        """Count a message the normalize agent rejected (language unknown: ``other``)."""
        self.articles.labels(lang=OTHER, status="dlq").inc()
        self.dead_letter(reason)

    def dead_letter(self, reason: str) -> None:
        """A record went to the DLQ."""
        self.dlq.labels(reason=bounded(reason, DLQ_REASONS)).inc()

    def coded(self, events: Iterable[CodedEvent]) -> None:
        """Count the events the coder made of one article."""
        pairs = self._pairs()
        for ev in events:
            key = (bounded(ev.pair, pairs), bounded(ev.root, ROOTS))
            child = self._event_children.get(key)
            if child is None:
                child = self._event_children[key] = self.events.labels(pair=key[0], root=key[1])
            child.inc()

    def alert_emitted(self, alert: Alert, ingested_at: datetime | None) -> None:
        """Count an emitted alert; observe ingest → alert when the article had an ingest time."""
        self.alerts.labels(
            pair=bounded(alert.pair, self._pairs()),
            rule=bounded(alert.rule.name, self.rules),
            severity=bounded(alert.severity, SEVERITIES),
        ).inc()
        if ingested_at is not None and ingested_at.tzinfo is not None:
            self.end_to_end_seconds.observe(max(0.0, (utcnow() - ingested_at).total_seconds()))

    # --- consumer lag ------------------------------------------------------------------------

    def set_lag(self, per_topic: Mapping[str, int]) -> None:
        """Replace the lag gauge's series with these (topics no longer assigned disappear)."""
        self.consumer_lag.clear()
        for topic, lag in per_topic.items():
            self.consumer_lag.labels(topic=topic).set(lag)

    async def refresh_lag(self, consumer: Any, topics: Collection[str]) -> None:
        """Sum highwater - position over the assigned partitions of these topics, per topic.

        ``topics`` are the agents' source topics (a fixed set): changelog topics are left out,
        since a worker only reads them while it recovers a table.
        """
        self.lag_topics = frozenset(topics)
        assigned = [tp for tp in consumer.assignment() if tp.topic in self.lag_topics]
        highwaters = {tp: consumer.highwater(tp) for tp in assigned}
        known = [tp for tp, hw in highwaters.items() if hw is not None]
        positions = await asyncio.gather(*(consumer.position(tp) for tp in known))
        per_topic: dict[str, int] = {}
        for tp, pos in zip(known, positions, strict=True):
            if pos is None:
                continue
            per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(0, highwaters[tp] - pos)
        self.set_lag(per_topic)


def agent_topics(app: Any) -> frozenset[str]:
    """Names of the topics the app's agents read."""
    return frozenset(
        name for agent in app.agents.values() for name in getattr(agent.channel, "topics", ())
    )


def rule_names() -> frozenset[str]:
    """The watch list's rule names (fields of ``alerts.watchlist.Rules``): the ``rule`` values."""
    from alerts.watchlist import Rules

    return frozenset(Rules.model_fields)


def install(app: Any, config_dir: Path, pairs: Callable[[], Collection[str]]) -> Metrics:
    """Metrics for one Faust app: a fresh registry, Faust's sensor, /metrics, the lag timer."""
    from faust.sensors.prometheus import setup_prometheus_sensors

    registry = CollectorRegistry(auto_describe=True)
    metrics = Metrics(
        registry, languages=lexicon_languages(config_dir), pairs=pairs, rules=rule_names()
    )
    # Faust's sensor adds its metrics to our registry and serves the registry at /metrics:
    # the worker has exactly one metrics page, with both sets on it.
    setup_prometheus_sensors(app, pattern="/metrics", registry=registry, name_prefix=FAUST_PREFIX)

    async def geomon_worker_started() -> None:
        metrics.worker_up.set(1)

    async def geomon_consumer_lag() -> None:
        try:
            await asyncio.wait_for(
                metrics.refresh_lag(app.consumer, agent_topics(app)), timeout=LAG_INTERVAL
            )
        except Exception as exc:  # a lag reading must never stop the worker
            log.debug("consumer lag not refreshed: %r", exc)

    app.task(geomon_worker_started)
    app.timer(interval=LAG_INTERVAL)(geomon_consumer_lag)
    return metrics
