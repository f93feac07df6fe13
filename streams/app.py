"""The Faust application: topics declared once, three thin agents around pure functions.

normalize: raw bytes → CleanArticle (or the DLQ with the original bytes and a reason)
code:      CleanArticle → CodedEvents, keyed by pair so each pair's state lives on one partition
alert:     CodedEvents → Alerts for watched pairs, to geomon.alerts and geomon.alerts.<PAIR>
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import aiohttp
import faust
from pydantic import ValidationError

from alerts.engine import Outcome, process_event
from alerts.ledger import SentLedger
from alerts.sinks import deliver
from alerts.watchlist import Watchlist, WatchlistError, load_watchlist
from streams import metrics as M
from streams import topics as T
from streams.coding.coder import Coder
from streams.normalize import Rejection, normalize
from streams.offload import CodingResult, Offload, code_clean, load_coder
from streams.records import Alert, CodedEvent, dump_json
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
    offload: Offload | None = None


#: Events whose alerts may await their acks at once; beyond, the agent waits for the oldest.
MAX_PENDING_EVENTS = 256


class AlertPipeline:
    """The alert agent's events in flight: sent, waiting for acks, then written and acked.

    ``submit`` takes an event once its alerts are sent. When the event raised no alert and
    nothing of its partition is in flight, its table updates are written and it is acked at
    once. Otherwise a task per event waits for the event before it in the same partition, then
    for its own alerts' acks, then writes the tables and acks the event: tables and committed
    offsets advance in the order of the partition, and only past acknowledged alerts. The task
    runs in a copy of the agent's context, so Faust still sees the event as the current one
    (its partition is the changelog partition of the table writes).

    Until an event's updates are in the tables, ``state``, ``clusters`` and ``emitted`` serve
    them from an overlay, so the next event of the pair is decided exactly as if the agent had
    waited.
    """

    def __init__(self, stream: Any, pair_state: Any, stories: Any, emitted: Any) -> None:
        self.stream = stream
        self.tables = (pair_state, stories, emitted)
        self.pending_state: dict[str, Any] = {}
        self.pending_clusters: dict[str, Any] = {}
        self.pending_emitted: dict[str, dict[str, Any]] = {}
        self.tails: dict[Any, asyncio.Task[None]] = {}  # last task per partition
        self.inflight: deque[asyncio.Task[None]] = deque()
        self.failure: BaseException | None = None

    def state(self, pair: str) -> Any:
        """The pair's rule state, including updates not yet written."""
        if pair in self.pending_state:
            return self.pending_state[pair]
        return self.tables[0].get(pair)

    def clusters(self, pair: str) -> Any:
        """The pair's story clusters, including updates not yet written."""
        if pair in self.pending_clusters:
            return self.pending_clusters[pair]
        return self.tables[1].get(pair)

    def emitted(self, alert_id: str) -> dict[str, Any] | None:
        """The latest version of an alert, including one whose ack is pending."""
        if alert_id in self.pending_emitted:
            return self.pending_emitted[alert_id]
        value: dict[str, Any] | None = self.tables[2].get(alert_id)
        return value

    def raise_failure(self) -> None:
        """Raise the error of a send that failed (the agent then stops, unacked)."""
        if self.failure is not None:
            raise self.failure

    async def submit(
        self,
        event: Any,
        pair: str,
        outcome: Outcome,
        acks: list[Awaitable[Any]],
        delivered: Callable[[], None],
    ) -> None:
        """Write and ack *event* now, or once its acks and its partition's earlier events are in."""
        self.raise_failure()
        updates = {a.alert_id: a.model_dump(mode="json") for a in outcome.alerts}
        tp = event.message.tp
        previous = self.tails.get(tp)
        if previous is not None and previous.done():
            previous = None
        if previous is None and not acks:
            self._write(pair, outcome, updates)
            delivered()
            await self.stream.ack(event)
            return
        self.pending_state[pair] = outcome.state
        self.pending_clusters[pair] = outcome.clusters
        self.pending_emitted.update(updates)
        task = asyncio.create_task(
            self._finish(event, pair, outcome, updates, acks, delivered, previous)
        )
        self.tails[tp] = task
        self.inflight.append(task)
        while self.inflight and self.inflight[0].done():
            self.inflight.popleft()
        while len(self.inflight) > MAX_PENDING_EVENTS:
            await asyncio.wait([self.inflight.popleft()])

    async def _finish(
        self,
        event: Any,
        pair: str,
        outcome: Outcome,
        updates: dict[str, dict[str, Any]],
        acks: list[Awaitable[Any]],
        delivered: Callable[[], None],
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None:
            await previous  # never raises but when cancelled: failures are in self.failure
        if self.failure is not None:
            return  # an earlier event's alert failed: this one stays unacknowledged too
        results = await asyncio.gather(*acks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            log.error("alert send failed, the event stays unacknowledged: %r", errors[0])
            self.failure = errors[0]
            return
        self._write(pair, outcome, updates)
        delivered()
        # Drop the overlay entries unless a later event of the pair has replaced them.
        if self.pending_state.get(pair) is outcome.state:
            del self.pending_state[pair]
        if self.pending_clusters.get(pair) is outcome.clusters:
            del self.pending_clusters[pair]
        for alert_id, value in updates.items():
            if self.pending_emitted.get(alert_id) is value:
                del self.pending_emitted[alert_id]
        await self.stream.ack(event)

    def _write(self, pair: str, outcome: Outcome, updates: dict[str, dict[str, Any]]) -> None:
        pair_state, stories, emitted = self.tables
        for alert_id, value in updates.items():
            emitted[alert_id] = value
        pair_state[pair] = outcome.state
        stories[pair] = outcome.clusters


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
        producer_linger=settings.producer_linger_ms / 1000.0,
        processing_guarantee=settings.processing_guarantee,
        logging_config=None,
    )


def default_coder(settings: Settings) -> CoderProvider:
    """Load the coder once, on first use (it takes a second or two)."""

    @lru_cache(maxsize=1)
    def provider() -> Coder:
        return load_coder(settings.config_dir)

    return provider


def create_pipeline(
    settings: Settings,
    coder: CoderProvider | None = None,
    watchlist: Watchlist | None = None,
    ledger: SentLedger | None = None,
    offload: Offload | None = None,
) -> Pipeline:
    """Build the app, its topics, tables and agents.

    With *offload*, the normalize and code agents run their pure step in its helper processes
    (the coder there is loaded from the settings' config dir, so *coder* is not used by them).
    """
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
    pipe = Pipeline(app, settings, wl, tp, pair_topics, metrics=m, coder=get_coder, offload=offload)

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
            if offload is not None:
                result = await offload.normalize(raw)
            else:
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
                result: CodingResult = (
                    await offload.code(event.value)
                    if offload is not None
                    else code_clean(get_coder(), event.value)
                )
            except Exception as exc:  # e.g. a helper that died twice: DLQ it, go on
                log.exception("coding failed on article %r", event.key)
                result = CodingResult(coder_error=repr(exc)[:200])
            if result.schema_error is None:  # the coder ran (or was meant to)
                m.coder_seconds.observe(result.seconds)
            failure = result.failure()
            if failure is not None:
                reason, detail = failure
                await dead_letter(
                    tp[T.ARTICLES_DLQ], event.key, event.value, reason, detail, event.message
                )
                m.dead_letter(reason)
                yield -1
                continue
            coded = result.events
            for ev in coded:
                await tp[T.EVENTS].send(key=ev.pair.encode(), value=dump_json(ev))
            m.coded(coded)
            yield len(coded)

    @app.agent(tp[T.EVENTS], name="geomon.alert", concurrency=1)
    async def alert_agent(stream: faust.StreamT[bytes]) -> AsyncIterator[str | None]:
        """Apply the watch list's rules; emit each alert id once.

        An event's alerts are sent at once, without waiting for their acks before the next
        event: a wait per alert would cap the agent at one broker round trip per alert. What
        at-least-once needs stays in order per partition (see ``AlertPipeline``): an event's
        table updates are written, and the event acked (so its offset may be committed), only
        after every alert it raised is acknowledged and every earlier event of its partition
        is done. Until then the next events of the pair see its updates in an overlay.
        """
        # Events are acked by AlertPipeline, after their alerts (StreamT does not declare noack).
        manual: Any = cast(Any, stream).noack()
        flow = AlertPipeline(manual, pair_state, stories, emitted)
        async for event in manual.events():
            flow.raise_failure()  # a send that failed stops the agent, as an await would
            try:
                ev = CodedEvent.model_validate_json(event.value)
            except ValidationError as exc:
                log.warning("skipping invalid event: %s", exc.errors()[0]["msg"])
                await manual.ack(event)
                yield None
                continue
            watch = pipe.watchlist.get(ev.pair)
            if watch is None or not watch.wants(ev.cameo, ev.confidence):
                await manual.ack(event)  # nothing to decide or store for this event
                yield None
                continue
            if ledger is not None and not ledger.ready.is_set():
                await asyncio.to_thread(ledger.ready.wait, 120.0)
            outcome = process_event(
                flow.state(ev.pair), flow.clusters(ev.pair), ev, watch, flow.emitted
            )
            # Send now; the tables record an alert only once the broker has acknowledged it
            # (AlertPipeline._finish). A crash before that re-processes the event, and the
            # ledger (the alerts topic itself) keeps an alert already sent from repeating.
            acks: list[Awaitable[Any]] = []
            sent: list[Alert] = []
            for alert in outcome.alerts:
                if ledger is None or (alert.alert_id, alert.version) not in ledger:
                    body = dump_json(alert)
                    key = alert.pair.encode()
                    acks.append(await tp[T.ALERTS].send(key=key, value=body))
                    if alert.pair in pair_topics:
                        acks.append(await pair_topics[alert.pair].send(key=key, value=body))
                    sent.append(alert)

            def delivered(alerts: list[Alert] = sent, ingested_at: Any = ev.ingested_at) -> None:
                for alert in alerts:
                    if ledger is not None:
                        ledger.add(alert.alert_id, alert.version)
                    m.alert_emitted(alert, ingested_at)
                    log.info(
                        "alert %s %s %s v%d",
                        alert.pair,
                        alert.rule.name,
                        alert.alert_id,
                        alert.version,
                    )

            await flow.submit(event, ev.pair, outcome, acks, delivered)
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
