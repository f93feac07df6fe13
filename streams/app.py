"""The Faust application: topics declared once, three thin agents around pure functions.

normalize: raw bytes → CleanArticle (or the DLQ with the original bytes and a reason)
code:      CleanArticle → CodedEvents, keyed by pair so each pair's state lives on one partition
alert:     CodedEvents → Alerts for watched pairs, to geomon.alerts and geomon.alerts.<PAIR>
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import aiohttp
import faust
from pydantic import ValidationError

from alerts.engine import process_event
from alerts.ledger import SentLedger
from alerts.sinks import deliver
from alerts.watchlist import Watchlist, WatchlistError, load_watchlist
from streams import metrics as M
from streams import topics as T
from streams.coding.coder import Coder
from streams.normalize import Rejection, normalize
from streams.records import CleanArticle, CodedEvent, dump_json
from streams.settings import Settings

log = logging.getLogger(__name__)

CoderProvider = Callable[[], Coder]


@dataclass
class Pipeline:
    """The app and everything declared on it, so tests and the CLI can reach each part."""

    app: faust.App
    settings: Settings
    watchlist: Watchlist
    topics: dict[str, Any]
    pair_topics: dict[str, Any]
    metrics: M.Metrics  # this app's own registry (a fresh one per pipeline, so per test)
    agents: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    coder: CoderProvider | None = None


def make_faust_app(settings: Settings) -> faust.App:
    """A faust.App configured only from our settings object."""
    return faust.App(
        settings.app_id,
        broker=settings.broker_url,
        broker_credentials=settings.faust_credentials(),
        store="memory://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 3),
        web_enabled=True,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        processing_guarantee=settings.processing_guarantee,
        logging_config=None,
    )


def default_coder(settings: Settings) -> CoderProvider:
    """Load the coder once, on first use (it takes a second or two)."""

    @lru_cache(maxsize=1)
    def provider() -> Coder:
        return Coder.from_config_dir(settings.config_dir)

    return provider


def create_pipeline(
    settings: Settings,
    coder: CoderProvider | None = None,
    watchlist: Watchlist | None = None,
    ledger: SentLedger | None = None,
) -> Pipeline:
    """Build the app, its topics, tables and agents."""
    app = make_faust_app(settings)
    wl = watchlist or load_watchlist(settings.config_dir / "watchlist.yaml")
    get_coder = coder or default_coder(settings)

    def bytes_topic(full_name: str, partitions: int) -> Any:
        """Raw bytes on the wire: the agents decode with the pydantic contracts themselves."""
        return app.topic(
            full_name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions,
        )

    def raw_topic(name: str, partitions: int) -> Any:
        return bytes_topic(settings.topic(name), partitions)

    tp = {
        T.ARTICLES: raw_topic(T.ARTICLES, settings.article_partitions),
        T.ARTICLES_CLEAN: raw_topic(T.ARTICLES_CLEAN, settings.article_partitions),
        T.ARTICLES_DLQ: raw_topic(T.ARTICLES_DLQ, 1),
        T.EVENTS: raw_topic(T.EVENTS, settings.partitions),
        T.ALERTS: raw_topic(T.ALERTS, settings.partitions),
        T.ALERTS_DLQ: raw_topic(T.ALERTS_DLQ, 1),
    }
    pair_topics = {pair: bytes_topic(T.pair_alert_topic(settings, pair), 1) for pair in wl.pairs}
    m = M.install(app, settings.config_dir, lambda: pipe.watchlist.pairs)  # registry, /metrics
    pipe = Pipeline(app, settings, wl, tp, pair_topics, metrics=m, coder=get_coder)

    pair_state = app.Table("pair_state", default=None, partitions=settings.partitions, key_type=str)
    stories = app.Table("stories", default=None, partitions=settings.partitions, key_type=str)
    emitted = app.Table(
        "emitted_alerts",
        default=None,
        partitions=settings.partitions,
        key_type=str,
    )
    pipe.tables = {"pair_state": pair_state, "stories": stories, "emitted": emitted}

    async def dead_letter(
        topic: Any, key: bytes | None, value: bytes | None, reason: str, detail: str, origin: Any
    ) -> None:
        headers = {
            "geomon-reason": reason.encode(),
            "geomon-detail": detail.encode("utf-8", "replace"),
            "geomon-origin": f"{origin.topic}:{origin.partition}:{origin.offset}".encode(),
        }
        await topic.send(key=key, value=value if value is not None else b"", headers=headers)

    @app.agent(tp[T.ARTICLES], name="geomon.normalize", concurrency=1)
    async def normalize_agent(stream: faust.StreamT[bytes]) -> AsyncIterator[str]:
        """Clean articles on; anything else to the DLQ with its reason."""
        async for event in stream.events():
            raw = event.value
            result = normalize(raw, settings.max_article_bytes)
            if isinstance(result, Rejection):
                log.warning("dead letter %s: %s", result.reason.value, result.detail)
                await dead_letter(
                    tp[T.ARTICLES_DLQ],
                    event.key,
                    raw,
                    result.reason.value,
                    result.detail,
                    event.message,
                )
                m.article_rejected(result.reason.value)
                yield f"dlq:{result.reason.value}"
                continue
            await tp[T.ARTICLES_CLEAN].send(key=result.id.encode(), value=dump_json(result))
            m.article_ok(result.lang)
            yield f"ok:{result.id}"

    @app.agent(tp[T.ARTICLES_CLEAN], name="geomon.code", concurrency=1)
    async def code_agent(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        """Code each clean article; events keyed by pair."""
        async for event in stream.events():
            try:
                article = CleanArticle.model_validate_json(event.value)
            except ValidationError as exc:
                await dead_letter(
                    tp[T.ARTICLES_DLQ],
                    event.key,
                    event.value,
                    "schema",
                    str(exc.errors()[0]["msg"]),
                    event.message,
                )
                m.dead_letter("schema")
                yield -1
                continue
            try:
                coded = m.time_coder(get_coder().code, article)
            except Exception as exc:  # a coder bug must not stop the stream: DLQ it
                log.exception("coder failed on article %s", article.id)
                await dead_letter(
                    tp[T.ARTICLES_DLQ],
                    event.key,
                    event.value,
                    "coder_error",
                    repr(exc)[:200],
                    event.message,
                )
                m.dead_letter("coder_error")
                yield -1
                continue
            for ev in coded:
                await tp[T.EVENTS].send(key=ev.pair.encode(), value=dump_json(ev))
            m.coded(coded)
            yield len(coded)

    @app.agent(tp[T.EVENTS], name="geomon.alert", concurrency=1)
    async def alert_agent(stream: faust.StreamT[bytes]) -> AsyncIterator[str | None]:
        """Apply the watch list's rules; emit each alert id once."""
        async for raw in stream:
            try:
                ev = CodedEvent.model_validate_json(raw)
            except ValidationError as exc:
                log.warning("skipping invalid event: %s", exc.errors()[0]["msg"])
                yield None
                continue
            if ledger is not None and not ledger.ready.is_set():
                await asyncio.to_thread(ledger.ready.wait, 120.0)
            outcome = process_event(
                pair_state.get(ev.pair),
                stories.get(ev.pair),
                ev,
                pipe.watchlist.get(ev.pair),
                emitted.get,
            )
            # Send first and wait for the broker's ack, then record in the tables: a crash in
            # between re-sends on re-processing, which the ledger (the topic itself) prevents.
            for alert in outcome.alerts:
                if ledger is None or (alert.alert_id, alert.version) not in ledger:
                    body = dump_json(alert)
                    acks = [await tp[T.ALERTS].send(key=alert.pair.encode(), value=body)]
                    if alert.pair in pair_topics:
                        acks.append(
                            await pair_topics[alert.pair].send(key=alert.pair.encode(), value=body)
                        )
                    for ack in acks:
                        await ack
                    if ledger is not None:
                        ledger.add(alert.alert_id, alert.version)
                    m.alert_emitted(alert, ev.ingested_at)
                    log.info(
                        "alert %s %s %s v%d",
                        alert.pair,
                        alert.rule.name,
                        alert.alert_id,
                        alert.version,
                    )
                emitted[alert.alert_id] = alert.model_dump(mode="json")
            pair_state[ev.pair] = outcome.state
            stories[ev.pair] = outcome.clusters
            yield ",".join(f"{a.alert_id}:{a.version}" for a in outcome.alerts) or None

    webhooks = [u.strip() for u in settings.webhook_urls.split(",") if u.strip()]
    if webhooks:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None

        @app.agent(tp[T.ALERTS], name="geomon.webhook", concurrency=1)
        async def webhook_agent(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
            """POST each alert to every webhook; failures to the alerts DLQ."""
            async with aiohttp.ClientSession() as session:
                async for event in stream.events():
                    body = event.value
                    try:
                        alert_id = str(json.loads(body)["alert_id"])
                    except (ValueError, KeyError, TypeError):
                        alert_id = "unknown"
                    failed = 0
                    for url in webhooks:
                        result = await deliver(
                            session,
                            url,
                            body,
                            secret,
                            alert_id,
                            settings.webhook_timeout,
                            settings.webhook_retries,
                            settings.webhook_backoff,
                        )
                        if not result.ok:
                            failed += 1
                            await dead_letter(
                                tp[T.ALERTS_DLQ],
                                event.key,
                                body,
                                "webhook_failed",
                                f"{url}: {result.detail} after {result.attempts} attempts",
                                event.message,
                            )
                    yield failed

        pipe.agents["webhook"] = webhook_agent

    watch_path = settings.config_dir / "watchlist.yaml"
    if watchlist is None and settings.watchlist_reload > 0:
        seen_mtime = [watch_path.stat().st_mtime if watch_path.exists() else 0.0]

        @app.timer(settings.watchlist_reload)  # type: ignore[untyped-decorator]
        async def reload_watchlist() -> None:
            """Pick up edits of watchlist.yaml without a restart; keep the old one if invalid."""
            try:
                mtime = watch_path.stat().st_mtime
            except OSError:
                return
            if mtime == seen_mtime[0]:
                return
            seen_mtime[0] = mtime
            try:
                fresh = load_watchlist(watch_path)
            except WatchlistError as exc:
                log.error("watch list not reloaded, keeping the previous one: %s", exc)
                return
            added = [p for p in fresh.pairs if p not in pair_topics]
            if added:
                await asyncio.to_thread(
                    T.ensure_topics,
                    settings,
                    [T.TopicSpec(T.pair_alert_topic(settings, p), 1) for p in added],
                )
                for p in added:
                    pair_topics[p] = bytes_topic(T.pair_alert_topic(settings, p), 1)
            pipe.watchlist = fresh
            log.info("watch list reloaded: %d pairs", len(fresh.pairs))

    pipe.agents.update(normalize=normalize_agent, code=code_agent, alert=alert_agent)
    return pipe


def all_topic_specs(settings: Settings, watchlist: Watchlist) -> list[T.TopicSpec]:
    """Topics to create before a worker starts."""
    return T.topic_specs(settings, list(watchlist.pairs))
