"""The watch list: which pairs users care about and how each one's rules are tuned."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from streams.records import Severity

PairCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{1,9}-[A-Z][A-Z0-9_]{1,9}$")]


class WatchlistError(ValueError):
    """The watch list is invalid; the message names the file and the field."""


class FirstActivity(BaseModel):
    """Alert when a pair acts after a quiet period (or for the first time ever)."""

    model_config = ConfigDict(extra="forbid")
    quiet_days: float = Field(14.0, gt=0)


class Rules(BaseModel):
    """Parameters of each rule; a rule set to null is switched off."""

    model_config = ConfigDict(extra="forbid")
    first_activity: FirstActivity | None = Field(default_factory=FirstActivity)


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


def _canonical(pair: Any) -> Any:
    if isinstance(pair, str) and "-" in pair:
        return "-".join(sorted(p.strip().upper() for p in pair.split("-", 1)))
    return pair


def parse_watchlist(data: Any, origin: str = "watchlist") -> Watchlist:
    """Validate a loaded watch list; errors name the pair entry and the field."""
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
        raise WatchlistError(f"{origin}: expected a mapping with a 'pairs' list")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise WatchlistError(f"{origin}: 'defaults' must be a mapping")
    pairs: dict[str, WatchedPair] = {}
    for i, raw in enumerate(data["pairs"]):
        if not isinstance(raw, dict):
            raise WatchlistError(f"{origin}: pairs[{i}]: expected a mapping")
        merged = {**defaults, **raw}
        rules = {**(defaults.get("rules") or {}), **(raw.get("rules") or {})}
        merged["rules"] = rules
        merged["pair"] = _canonical(raw.get("pair"))
        try:
            watched = WatchedPair.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise WatchlistError(f"{origin}: pairs[{i}].{field}: {err['msg']}") from exc
        if watched.pair in pairs:
            raise WatchlistError(f"{origin}: pairs[{i}].pair: {watched.pair} listed twice")
        pairs[watched.pair] = watched
    return Watchlist(pairs=pairs)


def load_watchlist(path: Path) -> Watchlist:
    """Read and validate configs/watchlist.yaml."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WatchlistError(f"{path}: {exc}") from exc
    return parse_watchlist(data, str(path))
