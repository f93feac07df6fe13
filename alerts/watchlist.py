"""The watch list: which pairs users care about and how each one's rules are tuned.

configs/watchlist.yaml is validated when a worker starts; an error names the file, the line
and the field. The alert agent re-reads the file when its modification time changes (checked
every few seconds), so edits apply without a restart; an invalid edit is logged and the last
valid watch list stays in force.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from streams.records import Severity

PairCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{1,9}-[A-Z][A-Z0-9_]{1,9}$")]


class WatchlistError(ValueError):
    """The watch list is invalid; the message names the file, line and field."""


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FirstActivity(_Rule):
    """Alert when a pair acts after a quiet period (or for the first time ever)."""

    quiet_days: float = Field(14.0, gt=0)


class NewEventType(_Rule):
    """Alert on an event type (root or 3-digit code) the pair has not shown in N days."""

    lookback_days: float = Field(90.0, gt=0)
    level: Literal["root", "code"] = "root"


class Surge(_Rule):
    """Alert when the last window's count stands out from the pair's EWMA daily baseline."""

    window_hours: float = Field(24.0, gt=0)
    min_count: int = Field(5, ge=1)
    z: float = Field(3.0, gt=0)
    alpha: float = Field(0.3, gt=0, le=1)


class Escalation(_Rule):
    """Alert when a cooperative pair's events turn toward material conflict (quad class)."""

    min_quad_class: int = Field(4, ge=1, le=4)
    max_baseline: float = Field(2.5, ge=1, le=4)
    min_events: int = Field(3, ge=1)
    alpha: float = Field(0.2, gt=0, le=1)


class Rules(BaseModel):
    """Parameters of each rule; a rule set to null is switched off."""

    model_config = ConfigDict(extra="forbid")
    first_activity: FirstActivity | None = Field(default_factory=FirstActivity)
    new_event_type: NewEventType | None = Field(default_factory=NewEventType)
    surge: Surge | None = Field(default_factory=Surge)
    escalation: Escalation | None = Field(default_factory=Escalation)


class WatchedPair(BaseModel):
    """One watched pair after defaults are applied."""

    model_config = ConfigDict(extra="forbid")
    pair: PairCode
    codes: list[str] = Field(default_factory=list, description="Roots or codes; empty = all.")
    min_confidence: float = Field(0.5, ge=0, le=1)
    severity: Severity = "medium"
    rules: Rules = Field(default_factory=Rules)

    def wants(self, cameo: str, confidence: float) -> bool:
        """True when an event of this code and confidence concerns this watch."""
        if confidence < self.min_confidence:
            return False
        return not self.codes or any(cameo.startswith(c) for c in self.codes)


class Watchlist(BaseModel):
    """All watched pairs, by pair code."""

    pairs: dict[str, WatchedPair]

    def get(self, pair: str) -> WatchedPair | None:
        """The watch for a pair, or None when it is not watched."""
        return self.pairs.get(pair)


def canonical_pair(pair: Any) -> Any:
    """'prk-irn' → 'IRN-PRK': pairs are undirected, codes sorted."""
    if isinstance(pair, str) and "-" in pair:
        return "-".join(sorted(p.strip().upper() for p in pair.split("-", 1)))
    return pair


def _lines(text: str) -> dict[tuple[str | int, ...], int]:
    """1-based line of every mapping key and list item, by path, from the YAML node tree."""
    out: dict[tuple[str | int, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        out[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                out[(*path, str(key.value))] = key.start_mark.line + 1
                walk(value, (*path, str(key.value)))
                out[(*path, str(key.value))] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return out


def parse_watchlist(
    data: Any, origin: str = "watchlist", lines: dict[tuple[str | int, ...], int] | None = None
) -> Watchlist:
    """Validate a loaded watch list; errors name the entry, the field and (given) the line."""
    lines = lines or {}

    def where(*path: str | int) -> str:
        for cut in range(len(path), 0, -1):
            if path[:cut] in lines:
                return f"{origin}:{lines[path[:cut]]}"
        return origin

    if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
        raise WatchlistError(f"{origin}: expected a mapping with a 'pairs' list")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise WatchlistError(f"{where('defaults')}: 'defaults' must be a mapping")
    pairs: dict[str, WatchedPair] = {}
    for i, raw in enumerate(data["pairs"]):
        if not isinstance(raw, dict):
            raise WatchlistError(f"{where('pairs', i)}: pairs[{i}]: expected a mapping")
        merged = {**defaults, **raw}
        rules = {**(defaults.get("rules") or {}), **(raw.get("rules") or {})}
        merged["rules"] = rules
        merged["pair"] = canonical_pair(raw.get("pair"))
        try:
            watched = WatchedPair.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc)
            in_pair = (
                ("pairs", i, *loc)
                if loc
                and (
                    loc[0] in raw
                    or loc[0] == "rules"
                    and loc[1:2]
                    and str(loc[1]) in (raw.get("rules") or {})
                )
                else ("defaults", *loc)
            )
            raise WatchlistError(f"{where(*in_pair)}: pairs[{i}].{field}: {err['msg']}") from exc
        if watched.pair in pairs:
            raise WatchlistError(
                f"{where('pairs', i, 'pair')}: pairs[{i}].pair: {watched.pair} listed twice"
            )
        pairs[watched.pair] = watched
    return Watchlist(pairs=pairs)


def load_watchlist(path: Path) -> Watchlist:
    """Read and validate configs/watchlist.yaml."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        lines = _lines(text)
    except (OSError, yaml.YAMLError) as exc:
        raise WatchlistError(f"{path}: {exc}") from exc
    return parse_watchlist(data, str(path), lines)
