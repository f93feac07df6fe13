"""One event through story clustering and the rules: the alert agent's logic, pure.

A new story (or a new event type within a story) goes through the rules; a syndicated copy of
a story already alerted raises that alert's version and adds its outlet to ``sources`` instead
of raising a new alert. The agent, replay and tests all call ``process_event``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.rules import PairState, evaluate, event_time
from alerts.stories import Cluster, add_copy, find_cluster, new_cluster, prune
from alerts.watchlist import WatchedPair
from streams.records import Alert, CodedEvent, utcnow

MAX_EVENTS_PER_ALERT = 50


@dataclass
class Outcome:
    """New pair state, new story clusters, and the alerts (new or new versions) to emit."""

    state: PairState
    clusters: list[Cluster]
    alerts: list[Alert] = field(default_factory=list)


def _own_copy(cluster: Cluster) -> Cluster:
    """A copy of the cluster whose lists can be changed without touching the original's."""
    return {k: list(v) if isinstance(v, list) else v for k, v in cluster.items()}


def process_event(
    state: PairState | None,
    clusters: list[Cluster] | None,
    event: CodedEvent,
    watch: WatchedPair | None,
    emitted: Callable[[str], dict[str, Any] | None],
    now: datetime | None = None,
) -> Outcome:
    """Cluster the event's article into a story, then alert or update as the story needs."""
    # The given clusters are left as they are (a table holds them, maybe an unsent changelog
    # record): the list is new, and the one cluster this event changes is copied first.
    clusters = list(clusters or [])
    if watch is None or not watch.wants(event.cameo, event.confidence):
        return Outcome(dict(state or {}), clusters)
    now = now or utcnow()
    when = event_time(event)
    cluster = find_cluster(clusters, event.story_id, event.url, event.signature, when)
    if cluster is None:
        cluster = new_cluster(event.story_id, event.url, event.signature, when)
        clusters.append(cluster)
    else:
        at = next(i for i, c in enumerate(clusters) if c is cluster)
        cluster = clusters[at] = _own_copy(cluster)
    first_article = not cluster["articles"]
    new_article = add_copy(
        cluster, event.article_id, event.story_id, event.url, event.source_name, when
    )
    out: list[Alert] = []
    if new_article and not first_article:
        for alert_id in cluster["alerts"]:
            previous = emitted(alert_id)
            if previous is None:
                continue
            alert = Alert.model_validate(previous)
            out.append(
                alert.model_copy(
                    update={
                        "version": alert.version + 1,
                        "sources": list(cluster["sources"]),
                        "events": (alert.events + [event.event_id])[-MAX_EVENTS_PER_ALERT:],
                        "last_seen": max(alert.last_seen, when),
                        "created_at": now,
                    }
                )
            )
    new_state = dict(state or {})
    if event.cameo not in cluster["codes"]:
        cluster["codes"].append(event.cameo)
        decision = evaluate(state, event, watch, story=cluster["id"], now=now)
        new_state = decision.state
        for alert in decision.alerts:
            if alert.alert_id in cluster["alerts"] or emitted(alert.alert_id) is not None:
                continue
            cluster["alerts"].append(alert.alert_id)
            out.append(alert.model_copy(update={"sources": list(cluster["sources"])}))
    if len(cluster["articles"]) > 500:
        cluster["articles"] = cluster["articles"][-500:]
    return Outcome(new_state, prune(clusters), out)
