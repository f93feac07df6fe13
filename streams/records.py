"""The messages that cross topics: Article in, CodedEvent between, Alert out.

Pydantic models are the contracts: they validate where messages enter and leave, and the JSON
Schemas published under configs/schemas/ are generated from them (a test keeps them equal).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

IsoPair = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{1,9}-[A-Z][A-Z0-9_]{1,9}$")]
Root = Annotated[str, StringConstraints(pattern=r"^(0[1-9]|1[0-9]|20)$")]
Cameo = Annotated[str, StringConstraints(pattern=r"^(0[1-9]|1[0-9]|20)[0-9]{0,2}$")]


def utcnow() -> datetime:
    """Timezone-aware now, so every timestamp we write carries its zone."""
    return datetime.now(UTC)


def stable_id(*parts: str, length: int = 16) -> str:
    """A short deterministic id: same inputs, same id, across processes and replays."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()
    return digest[:length]


class Article(BaseModel):
    """A news article as producers send it (JSON object; plain UTF-8 text also accepted)."""

    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)

    text: Annotated[str, StringConstraints(min_length=1)] = Field(
        validation_alias=AliasChoices("text", "body"), description="Article body (or `body`)."
    )
    id: str | None = Field(None, description="Producer's id; default a hash of url or text.")
    title: str | None = None
    url: str | None = None
    source: str | None = Field(None, description="Outlet name.")
    lang: str | None = Field(None, description="ISO 639-1 language, detected when missing.")
    published_at: datetime | None = Field(None, description="ISO 8601 publication time.")
    fetched_at: datetime | None = None
    ingested_at: datetime | None = Field(None, description="Set by `geomon ingest`.")

    @field_validator("published_at", "fetched_at", "ingested_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is taken as UTC, so every comparison downstream is defined."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def article_id(self) -> str:
        """The given id, else a stable hash of the url, else of the text."""
        if self.id:
            return self.id
        return stable_id("url", self.url) if self.url else stable_id("text", self.text)


class CleanArticle(Article):
    """An article after normalization: id, language and story cluster are always known."""

    id: str
    lang: str
    story_id: str = Field(description="Normalized-title key: syndicated copies share it.")
    signature: list[int] | None = Field(
        None, description="MinHash of the text, to find near-identical copies."
    )


class Span(BaseModel):
    """A piece of the evidence sentence, with character offsets into that sentence."""

    model_config = ConfigDict(frozen=True)

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    code: str | None = Field(None, description="Actor code or CAMEO code the span stands for.")


class Evidence(BaseModel):
    """Why the coder said what it said: the sentence and the spans it matched."""

    model_config = ConfigDict(frozen=True)

    sentence: str
    trigger: Span
    source: Span
    target: Span


class CodedEvent(BaseModel):
    """One interaction between two actors, coded with CAMEO."""

    event_id: str = Field(description="Deterministic: article + pair + code.")
    article_id: str
    story_id: str
    pair: IsoPair = Field(description="Undirected, codes sorted: IRN-PRK.")
    source: str = Field(description="Acting actor (ISO-3 or IGO code, role suffix optional).")
    target: str
    source_role: str | None = Field(None, description="CAMEO role (GOV, MIL, MED …) if known.")
    target_role: str | None = None
    directed: bool = Field(description="True when the text says who acts on whom.")
    cameo: Cameo
    root: Root
    quad_class: int = Field(ge=1, le=4)
    goldstein: float = Field(ge=-10, le=10)
    confidence: float = Field(ge=0, le=1)
    lang: str
    evidence: Evidence
    title: str | None = None
    url: str | None = None
    source_name: str | None = None
    published_at: datetime | None = None
    ingested_at: datetime | None = None
    signature: list[int] | None = Field(None, description="The article's MinHash signature.")
    coded_at: datetime
    coder_version: str


Severity = Literal["info", "low", "medium", "high", "critical"]


class RuleHit(BaseModel):
    """Which rule fired and why, in words and numbers."""

    name: str
    reason: str
    numbers: dict[str, float] = Field(default_factory=dict)


class Alert(BaseModel):
    """A notification that a watched pair shows new activity."""

    alert_id: str = Field(description="Deterministic: a replay or restart cannot double-alert.")
    version: int = Field(1, ge=1, description="Later copies of a story raise the version.")
    pair: IsoPair
    rule: RuleHit
    severity: Severity
    events: list[str]
    cameo: Cameo
    root: Root
    first_seen: datetime
    last_seen: datetime
    sources: list[str] = Field(description="Distinct outlets corroborating.")
    summary: str
    evidence: list[Evidence]
    created_at: datetime


def dump_json(model: BaseModel) -> bytes:
    """Compact UTF-8 JSON, the one wire format of every record."""
    return model.model_dump_json(exclude_none=False).encode("utf-8")


def json_schemas() -> dict[str, dict[str, Any]]:
    """The published contracts, by file stem under configs/schemas/."""
    article = Article.model_json_schema(by_alias=True)
    # The body may come as `text` or `body`: say so in the schema too.
    article["properties"]["body"] = article["properties"]["text"]
    article.pop("required", None)
    article["anyOf"] = [{"required": ["text"]}, {"required": ["body"]}]
    return {
        "article": article,
        "coded_event": CodedEvent.model_json_schema(),
        "alert": Alert.model_json_schema(),
    }
