"""Every topic name in one place, with its partition count.

Topics are created up front (``ensure_topics``) with explicit partition counts: auto-created
topics get the broker's default count, which breaks keyed ordering and scale-out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.settings import Settings

log = logging.getLogger(__name__)

ARTICLES = "articles"
ARTICLES_DLQ = "articles.dlq"
ARTICLES_CLEAN = "articles.clean"
EVENTS = "events"
ALERTS = "alerts"
ALERTS_DLQ = "alerts.dlq"
TABLES = ("pair_state", "stories", "emitted_alerts")  # the alert agent's Faust tables

#: No time-based deletion. A record's time is the article's publication time, so with the
#: broker's default 7-day retention a backfill of older articles (or a replay's output, which
#: keeps their times) would be deleted at the next retention check, minutes after it was written.
#: Bound these topics by size (retention.bytes) or delete them; the archive keeps history.
KEEP_BY_TIME_FOREVER: tuple[tuple[str, str], ...] = (("retention.ms", "-1"),)


@dataclass(frozen=True)
class TopicSpec:
    """A topic's full name and how it is created."""

    name: str
    partitions: int
    config: tuple[tuple[str, str], ...] = ()


def pair_alert_topic(settings: Settings, pair: str) -> str:
    """The per-pair alert topic subscribers follow, e.g. geomon.alerts.IRN-PRK."""
    return settings.topic(f"{ALERTS}.{pair}")


def topic_specs(settings: Settings, watched_pairs: list[str]) -> list[TopicSpec]:
    """All topics a worker needs, with the partition counts the settings give."""
    n = settings.partitions
    specs = [
        TopicSpec(settings.topic(ARTICLES), settings.article_partitions, KEEP_BY_TIME_FOREVER),
        TopicSpec(settings.topic(ARTICLES_CLEAN), settings.article_partitions),
        TopicSpec(settings.topic(ARTICLES_DLQ), 1),
        TopicSpec(settings.topic(EVENTS), n),
        TopicSpec(settings.topic(ALERTS), n),
        TopicSpec(settings.topic(ALERTS_DLQ), 1),
    ]
    specs += [TopicSpec(pair_alert_topic(settings, p), 1) for p in sorted(set(watched_pairs))]
    # The alert agent's table changelogs, created here rather than by Faust at start: on a busy
    # broker Faust's own creation can race its partition check (PartitionsMismatch, 0 partitions).
    specs += [
        TopicSpec(changelog_topic(settings, table), n, (("cleanup.policy", "compact"),))
        for table in TABLES
    ]
    return specs


def changelog_topic(settings: Settings, table: str) -> str:
    """Faust's name for a table's changelog topic."""
    return f"{settings.app_id}-{table}-changelog"


def ensure_topics(settings: Settings, specs: list[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = KafkaAdminClient(client_id="geomon-admin", **settings.kafka_python_config())
    try:
        existing = set(admin.list_topics())
        new = [
            NewTopic(
                name=s.name,
                num_partitions=s.partitions,
                replication_factor=settings.replication_factor,
                topic_configs=dict(s.config),
            )
            for s in specs
            if s.name not in existing
        ]
        if new:
            try:
                admin.create_topics(new, validate_only=False)
            except TopicAlreadyExistsError:
                log.debug("topics were created concurrently")
        created = [t.name for t in new]
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        admin.close()
