"""Alert rules: pure functions from (pair state, event, watch) to (new state, alerts).

State is a plain JSON-able dict so it can live in a Faust table and be replayed exactly. Each
alert names its rule and the numbers that made it fire. Alert ids are deterministic (pair, rule,
story; a surge's id is its pair and day), so a replay or a restart cannot double-alert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.watchlist import WatchedPair
from streams.records import Alert, CodedEvent, RuleHit, Severity, stable_id, utcnow

PairState = dict[str, Any]
MAX_RECENT = 500
_SEVERITY_UP: dict[Severity, Severity] = {
    "info": "low",
    "low": "medium",
    "medium": "high",
    "high": "critical",
    "critical": "critical",
}


@dataclass(frozen=True)
class Decision:
    """What the rules made of one event."""

    state: PairState
    alerts: list[Alert] = field(default_factory=list)

    @property
    def alert(self) -> Alert | None:
        """The first alert, for callers that expect at most one."""
        return self.alerts[0] if self.alerts else None


def event_time(event: CodedEvent) -> datetime:
    """When it happened as far as we know: publication, else ingest, else coding time."""
    return event.published_at or event.ingested_at or event.coded_at


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _alert(
    event: CodedEvent,
    watch: WatchedPair,
    rule: str,
    reason: str,
    numbers: dict[str, float],
    key: str,
    now: datetime,
    severity: Severity | None = None,
) -> Alert:
    when = event_time(event)
    return Alert(
        alert_id=stable_id("alert", event.pair, rule, key),
        pair=event.pair,
        rule=RuleHit(
            name=rule, reason=reason, numbers={k: round(v, 4) for k, v in numbers.items()}
        ),
        severity=severity or watch.severity,
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
        created_at=now,
    )


def _roll_days(state: PairState, day: str, alpha: float) -> None:
    """Fold completed days into the EWMA of daily counts (quiet days count as zero)."""
    current = state.get("day")
    if current is None:
        state["day"], state["day_count"] = day, 0
        return
    if day <= current:
        return
    gap = (datetime.fromisoformat(day) - datetime.fromisoformat(current)).days
    counts = [float(state.get("day_count", 0))] + [0.0] * min(gap - 1, 60)
    mean, var = float(state.get("ewma_mean", 0.0)), float(state.get("ewma_var", 0.0))
    for c in counts:
        if state.get("days_seen", 0) == 0:
            mean, var = c, 0.0
        else:
            diff = c - mean
            mean += alpha * diff
            var = (1 - alpha) * (var + alpha * diff * diff)
        state["days_seen"] = int(state.get("days_seen", 0)) + 1
    state.update(day=day, day_count=0, ewma_mean=mean, ewma_var=var)


def evaluate(
    state: PairState | None,
    event: CodedEvent,
    watch: WatchedPair | None,
    story: str | None = None,
    now: datetime | None = None,
) -> Decision:
    """Apply the watch's rules to one new event of its pair (copies are handled by the caller)."""
    state = dict(state or {})
    if watch is None or watch.pair != event.pair or not watch.wants(event.cameo, event.confidence):
        return Decision(state)
    now = now or utcnow()
    story = story or event.story_id
    when = event_time(event)
    rules = watch.rules
    alerts: list[Alert] = []
    last = _dt(state.get("last_seen"))
    count = int(state.get("count", 0)) + 1
    state["count"] = count
    state["last_seen"] = max(when, last).isoformat() if last else when.isoformat()
    state.setdefault("first_seen", when.isoformat())

    if rules.first_activity is not None:
        quiet = rules.first_activity.quiet_days
        gap = None if last is None else (when - last).total_seconds() / 86400.0
        if gap is None or gap > quiet:
            reason = (
                f"first {event.pair} activity seen"
                if gap is None
                else f"{event.pair} active again after {gap:.1f} quiet days "
                f"(quiet period {quiet:g} days)"
            )
            numbers = {"quiet_days": quiet, "events_total": float(count)}
            if gap is not None:
                numbers["gap_days"] = gap
            alerts.append(_alert(event, watch, "first_activity", reason, numbers, story, now))

    types: dict[str, str] = dict(state.get("types") or {})
    if rules.new_event_type is not None:
        level = rules.new_event_type.level
        kind = event.root if level == "root" else event.cameo
        seen = _dt(types.get(kind))
        lookback = rules.new_event_type.lookback_days
        if last is not None and (seen is None or (when - seen).days > lookback):
            reason = (
                f"{event.pair} shows {level} {kind} for the first time in "
                f"{lookback:g} days ({len(types)} other types seen)"
            )
            alerts.append(
                _alert(
                    event,
                    watch,
                    "new_event_type",
                    reason,
                    {"lookback_days": lookback, "types_seen": float(len(types))},
                    f"{story}:{kind}",
                    now,
                )
            )
        seen_before = _dt(types.get(kind))
        if seen_before is None or when > seen_before:
            types[kind] = when.isoformat()
        state["types"] = types

    if rules.surge is not None:
        s = rules.surge
        _roll_days(state, when.date().isoformat(), s.alpha)
        if when.date().isoformat() == state.get("day"):
            state["day_count"] = int(state.get("day_count", 0)) + 1
        window = timedelta(hours=s.window_hours)
        times = [datetime.fromisoformat(t) for t in state.get("recent", [])]
        times = [t for t in times if abs((when - t).total_seconds()) <= window.total_seconds()]
        times.append(when)
        state["recent"] = [t.isoformat() for t in times[-MAX_RECENT:]]
        n = len(times)
        mean = float(state.get("ewma_mean", 0.0)) * s.window_hours / 24.0
        sd = math.sqrt(float(state.get("ewma_var", 0.0))) * s.window_hours / 24.0
        z = (n - mean) / max(sd, 1.0)
        day = when.date().isoformat()
        if n >= s.min_count and z >= s.z and state.get("surge_day") != day:
            state["surge_day"] = day
            reason = (
                f"{event.pair}: {n} events in {s.window_hours:g} h against a baseline of "
                f"{mean:.1f} (z = {z:.1f} ≥ {s.z:g}, minimum {s.min_count})"
            )
            alerts.append(
                _alert(
                    event,
                    watch,
                    "surge",
                    reason,
                    {"count": float(n), "baseline": mean, "z": z, "min_count": float(s.min_count)},
                    day,
                    now,
                    severity=_SEVERITY_UP[watch.severity],
                )
            )

    if rules.escalation is not None:
        e = rules.escalation
        before = state.get("quad_ewma")
        if (
            before is not None
            and count > e.min_events
            and event.quad_class >= e.min_quad_class
            and float(before) <= e.max_baseline
        ):
            reason = (
                f"{event.pair} moved to quad class {event.quad_class} from a baseline of "
                f"{float(before):.2f} (≤ {e.max_baseline:g})"
            )
            alerts.append(
                _alert(
                    event,
                    watch,
                    "escalation",
                    reason,
                    {"quad_class": float(event.quad_class), "baseline": float(before)},
                    story,
                    now,
                    severity=_SEVERITY_UP[watch.severity],
                )
            )
        q = float(event.quad_class)
        state["quad_ewma"] = q if before is None else float(before) + e.alpha * (q - float(before))
    return Decision(state, alerts)
