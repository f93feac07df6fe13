"""Alert rules: pure functions from (pair state, event, watch) to (new state, alert or none).

State is a plain dict so it can live in a Faust table (JSON) and be replayed exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alerts.watchlist import WatchedPair
from streams.records import Alert, CodedEvent, RuleHit, stable_id, utcnow

PairState = dict[str, object]


@dataclass(frozen=True)
class Decision:
    """What the rules made of one event."""

    state: PairState
    alert: Alert | None


def event_time(event: CodedEvent) -> datetime:
    """When it happened as far as we know: publication, else ingest, else coding time."""
    return event.published_at or event.ingested_at or event.coded_at


def _parse(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def evaluate(
    state: PairState | None,
    event: CodedEvent,
    watch: WatchedPair | None,
    now: datetime | None = None,
) -> Decision:
    """Apply the watch's rules to one event of its pair."""
    state = dict(state or {})
    if watch is None or watch.pair != event.pair or not watch.wants(event.cameo, event.confidence):
        return Decision(state, None)
    when = event_time(event)
    last = _parse(state.get("last_seen"))
    count = int(str(state.get("count", 0)))
    state["count"] = count + 1
    state["last_seen"] = max(when, last).isoformat() if last else when.isoformat()
    state.setdefault("first_seen", when.isoformat())
    rule = watch.rules.first_activity
    if rule is None:
        return Decision(state, None)
    quiet_s = rule.quiet_days * 86400.0
    if last is not None and (when - last).total_seconds() <= quiet_s:
        return Decision(state, None)
    gap_days = None if last is None else (when - last).total_seconds() / 86400.0
    reason = (
        f"first {event.pair} activity seen"
        if gap_days is None
        else f"{event.pair} active again after {gap_days:.1f} quiet days"
        f" (quiet period {rule.quiet_days:g} days)"
    )
    numbers = {"quiet_days": rule.quiet_days, "events_total": float(count + 1)}
    if gap_days is not None:
        numbers["gap_days"] = round(gap_days, 3)
    alert = Alert(
        alert_id=stable_id("alert", event.pair, "first_activity", event.story_id),
        pair=event.pair,
        rule=RuleHit(name="first_activity", reason=reason, numbers=numbers),
        severity=watch.severity,
        events=[event.event_id],
        cameo=event.cameo,
        root=event.root,
        first_seen=when,
        last_seen=when,
        sources=[event.source_name] if event.source_name else [],
        summary=f"{event.source}→{event.target} CAMEO {event.cameo}: {event.evidence.sentence}"[
            :300
        ],
        evidence=[event.evidence],
        created_at=now or utcnow(),
    )
    return Decision(state, alert)
