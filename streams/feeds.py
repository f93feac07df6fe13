"""Poll RSS and Atom feeds and produce each new entry once, as an Article.

Why it is shaped like this:

* The HTTP request is ours (urllib, with a timeout and a size cap) and feedparser only parses
  the bytes, so a conditional request (``If-None-Match`` / ``If-Modified-Since``) answered with
  304 costs nothing and sends nothing, and every failure becomes one clear line per feed.
* A seen-set in a small sqlite3 file (default ``$GEOMON_DATA_DIR/feeds.sqlite3``) keeps, per
  feed URL, the key of every entry sent (its id/guid, else its link, else a hash of title and
  date) and the feed's last ETag and Last-Modified, so a restart sends nothing twice even when
  a server ignores conditional requests.
* Entries are marked seen, and the validators stored, only after the broker acknowledged every
  record of the poll: a failed send is retried at the next poll, never lost. A crash between
  the acknowledgement and the sqlite commit may resend a poll's entries (at-least-once); their
  keys and alert ids are deterministic, so that cannot alert twice.
* Records are produced like ``geomon ingest`` does: key = article id (a hash of the link),
  timestamp = ``published_at`` (the entry's published, else updated, time), else ingest time.
* Text is the entry's content, else its summary, else its title, HTML turned into text by
  lxml; with ``fetch_pages`` it is the linked page's main text (trafilatura, which works
  offline), falling back to the entry's. The language is left to normalize's detection:
  a feed's declared language is often a site-wide default.
"""

from __future__ import annotations

import calendar
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from http.client import HTTPException
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import feedparser
import lxml.html
from kafka.errors import KafkaError
from lxml import etree
from pydantic import ValidationError

from streams.ingest import Outgoing, produce, record_timestamp_ms
from streams.records import Article, dump_json, stable_id, utcnow
from streams.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "geomon-feeds/0.1"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
MAX_FEED_BYTES = 20_000_000

# Elements after which text continues on a new line.
_BLOCKS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table td th tr ul".split()
)


class FetchError(Exception):
    """An HTTP or network failure, worded for the person running the command."""


@dataclass(frozen=True)
class HttpResponse:
    """What a GET gave: status (200 or 304), body, lower-cased headers, final URL."""

    status: int
    body: bytes
    headers: dict[str, str]
    url: str


def _headers(msg: Message | None) -> dict[str, str]:
    return {k.lower(): v for k, v in msg.items()} if msg is not None else {}


def http_get(
    url: str,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    max_bytes: int = MAX_FEED_BYTES,
) -> HttpResponse:
    """GET an http(s) URL; 304 is a result, any other failure a FetchError."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url, headers={"User-Agent": USER_AGENT, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            body = resp.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise FetchError(f"larger than {max_bytes} bytes")
            return HttpResponse(resp.status, body, _headers(resp.headers), resp.geturl())
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return HttpResponse(304, b"", _headers(exc.headers), url)
        raise FetchError(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise FetchError(f"cannot fetch: {exc.reason}") from exc
    except (OSError, HTTPException, ValueError) as exc:
        raise FetchError(f"cannot fetch: {exc!r}") from exc


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, one line per block, whitespace collapsed."""
    if not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return " ".join(html.split())
    for bad in root.xpath("//script | //style | //noscript | //template"):
        bad.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCKS:
            el.tail = "\n" + (el.tail or "")
    text: str = root.text_content()
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _detail_text(detail: Any) -> str:
    """Text of a feedparser content/summary detail: HTML converted, plain text kept."""
    value = str(detail.get("value") or "")
    kind = str(detail.get("type") or "text/html")
    if "html" in kind:
        return html_to_text(value)
    return "\n".join(" ".join(line.split()) for line in value.splitlines() if line.strip())


def entry_text(entry: Any) -> str:
    """The entry's longest content, else its summary, else its title."""
    contents = [_detail_text(c) for c in entry.get("content") or []]
    best = max(contents, key=len, default="")
    if best:
        return best
    if entry.get("summary_detail"):
        summary = _detail_text(entry["summary_detail"])
        if summary:
            return summary
    return " ".join(str(entry.get("title") or "").split())


def entry_published(entry: Any) -> datetime | None:
    """The entry's published (else updated) time in UTC; feedparser gives UTC struct_times."""
    for field in ("published_parsed", "updated_parsed"):
        parsed = entry.get(field)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def _sort_time(entry: Any) -> tuple[bool, datetime]:
    """Oldest first, undated last: the order a reader of the stream expects."""
    when = entry_published(entry)
    return (when is None, when or datetime.max.replace(tzinfo=UTC))


def entry_key(entry: Any) -> str:
    """What makes an entry the same entry across polls: id/guid, else link, else title+date."""
    if entry.get("id"):
        return f"id:{entry['id']}"
    if entry.get("link"):
        return f"link:{entry['link']}"
    title = str(entry.get("title") or "")
    when = str(entry.get("published") or entry.get("updated") or "")
    return "hash:" + stable_id("entry", title, when, length=32)


def page_text(url: str, timeout: float = 30.0, max_bytes: int = MAX_FEED_BYTES) -> str | None:
    """The main text of a linked page (trafilatura, no network of its own), or None."""
    import trafilatura  # slow to import: only when pages are fetched

    try:
        resp = http_get(url, {"Accept": PAGE_ACCEPT}, timeout, max_bytes)
    except FetchError as exc:
        log.warning("page %s: %s; using the entry's text", url, exc)
        return None
    try:
        text = trafilatura.extract(
            resp.body, url=resp.url, include_comments=False, include_tables=False
        )
    except Exception as exc:  # an extractor bug on one page must not lose the entry
        log.warning("page %s: extraction failed (%r); using the entry's text", url, exc)
        return None
    if not text or not text.strip():
        log.warning("page %s: no main text found; using the entry's text", url)
        return None
    return text.strip()


def entry_article(
    entry: Any, feed_url: str, source: str, now: datetime, fetch_pages: bool = False
) -> Article | None:
    """An Article from a feed entry, or None when there is no text at all."""
    link = str(entry.get("link") or "") or None
    text = (page_text(link) if fetch_pages and link else None) or entry_text(entry)
    if not text:
        return None
    title = " ".join(str(entry.get("title") or "").split()) or None
    article_id = stable_id("url", link) if link else stable_id("feed", feed_url, entry_key(entry))
    return Article(
        id=article_id,
        text=text,
        title=title,
        url=link,
        source=source,
        published_at=entry_published(entry),
        fetched_at=now,
        ingested_at=now,
    )


class SeenStore:
    """The seen-set and each feed's validators, in one sqlite3 file that survives restarts."""

    def __init__(self, path: Path) -> None:
        """Open (and create) the store; its folder is created too."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30)
        with self._db:
            self._db.executescript(
                """
                CREATE TABLE IF NOT EXISTS feeds (
                    url TEXT PRIMARY KEY, etag TEXT, modified TEXT, title TEXT, checked_at TEXT);
                CREATE TABLE IF NOT EXISTS seen (
                    feed_url TEXT NOT NULL, entry_key TEXT NOT NULL, article_id TEXT NOT NULL,
                    sent_at TEXT NOT NULL, PRIMARY KEY (feed_url, entry_key));
                """
            )

    def validators(self, feed_url: str) -> tuple[str | None, str | None]:
        """The ETag and Last-Modified the feed sent last time."""
        row = self._db.execute(
            "SELECT etag, modified FROM feeds WHERE url = ?", (feed_url,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def unseen(self, feed_url: str, keys: Iterable[str]) -> set[str]:
        """The keys of this feed that were never sent."""
        wanted = set(keys)
        seen = {
            k
            for (k,) in self._db.execute(
                "SELECT entry_key FROM seen WHERE feed_url = ?", (feed_url,)
            )
        }
        return wanted - seen

    def seen_count(self, feed_url: str) -> int:
        """How many entries of this feed were sent."""
        row = self._db.execute("SELECT COUNT(*) FROM seen WHERE feed_url = ?", (feed_url,))
        return int(row.fetchone()[0])

    def commit(
        self,
        feed_url: str,
        sent: Sequence[tuple[str, str]],
        etag: str | None,
        modified: str | None,
        title: str | None,
    ) -> None:
        """Mark (entry key, article id) pairs sent and keep the validators, in one transaction."""
        now = utcnow().isoformat()
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)",
                [(feed_url, key, aid, now) for key, aid in sent],
            )
            self._db.execute(
                "INSERT INTO feeds VALUES (?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
                "etag = excluded.etag, modified = excluded.modified, title = excluded.title, "
                "checked_at = excluded.checked_at",
                (feed_url, etag, modified, title, now),
            )

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _bozo_problem(parsed: Any) -> str:
    """What feedparser found wrong, with the line and column when the XML is not well-formed."""
    exc = parsed.get("bozo_exception")
    where = ""
    if hasattr(exc, "getLineNumber"):
        where = f" (line {exc.getLineNumber()}, column {exc.getColumnNumber()})"
        detail = str(getattr(exc, "getMessage", lambda: exc)())
    else:
        detail = str(exc)
    kind = "malformed feed" if parsed.get("version") else "not an RSS or Atom feed"
    return f"{kind}{where}: {detail}"


Status = Literal["sent", "unchanged", "not_modified", "error"]


@dataclass(frozen=True)
class FeedResult:
    """What one poll of one feed did; ``problem`` says what was wrong, if anything."""

    url: str
    status: Status
    entries: int = 0
    sent: int = 0
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """False when the feed could not be read or its entries could not be sent."""
        return self.status != "error"

    def describe(self) -> str:
        """One line for the person running the command."""
        if self.status == "error":
            return f"{self.url}: error: {self.problem}"
        if self.status == "not_modified":
            return f"{self.url}: not modified (304)"
        line = f"{self.url}: {self.sent} new of {self.entries} entries"
        return f"{line} (warning: {self.problem})" if self.problem else line


def default_state_path(settings: Settings) -> Path:
    """Where the seen-set lives unless ``--state`` says otherwise."""
    return settings.data_dir / "feeds.sqlite3"


class FeedPoller:
    """Polls feeds and produces their new entries; one producer and one store for all feeds."""

    def __init__(
        self,
        producer: Any,
        topic: str,
        store: SeenStore,
        fetch_pages: bool = False,
        timeout: float = 30.0,
    ) -> None:
        """Wire a kafka-python producer, the target topic and the seen-set together."""
        self.producer = producer
        self.topic = topic
        self.store = store
        self.fetch_pages = fetch_pages
        self.timeout = timeout

    def poll(self, urls: Iterable[str]) -> list[FeedResult]:
        """Poll each feed once; a bad feed is reported and the others go on."""
        results = []
        for url in urls:
            try:
                result = self.poll_feed(url)
            except Exception as exc:  # one broken feed must not stop the others
                log.exception("feed %s: unexpected failure", url)
                result = FeedResult(url, "error", problem=f"unexpected failure: {exc!r}")
            log.debug("feed %s", result.describe())
            results.append(result)
        return results

    def poll_feed(self, url: str) -> FeedResult:
        """Fetch one feed (conditionally), send its unseen entries, remember them."""
        etag, modified = self.store.validators(url)
        headers = {"Accept": FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        try:
            resp = http_get(url, headers, self.timeout)
        except FetchError as exc:
            return FeedResult(url, "error", problem=str(exc))
        if resp.status == 304:
            return FeedResult(url, "not_modified")

        parsed = feedparser.parse(
            resp.body,
            response_headers={
                "content-type": resp.headers.get("content-type", "application/xml"),
                "content-location": resp.url,
            },
        )
        problem = _bozo_problem(parsed) if parsed.get("bozo") else None
        if problem and not parsed.entries:
            return FeedResult(url, "error", problem=problem)
        source = str(parsed.feed.get("title") or "").strip() or urlsplit(url).netloc

        by_key: dict[str, Any] = {}
        for entry in parsed.entries:
            by_key.setdefault(entry_key(entry), entry)
        new_keys = self.store.unseen(url, by_key)
        now = utcnow()
        batch: list[tuple[str, str, Outgoing]] = []
        oldest_first = sorted(by_key.items(), key=lambda kv: _sort_time(kv[1]))
        for key, entry in oldest_first:
            if key not in new_keys:
                continue
            try:
                article = entry_article(entry, url, source, now, self.fetch_pages)
            except ValidationError as exc:
                log.warning("feed %s: entry %s is not an article (%s); skipped", url, key, exc)
                continue
            if article is None:
                log.warning("feed %s: entry %s has no text; skipped", url, key)
                continue
            aid = article.article_id()
            batch.append(
                (
                    key,
                    aid,
                    Outgoing(
                        aid.encode("utf-8"),
                        dump_json(article),
                        record_timestamp_ms(article.published_at),
                        f"{url}#{key}",
                    ),
                )
            )
        try:
            acked = produce(self.producer, self.topic, (m for _, _, m in batch))
        except KafkaError as exc:
            return FeedResult(url, "error", len(by_key), problem=f"broker: {exc!r}")
        if acked < len(batch):
            return FeedResult(
                url,
                "error",
                len(by_key),
                problem=f"{len(batch) - acked} of {len(batch)} records not acknowledged; "
                "the feed is read again next poll",
            )
        self.store.commit(
            url,
            [(key, aid) for key, aid, _ in batch],
            resp.headers.get("etag"),
            resp.headers.get("last-modified"),
            source,
        )
        return FeedResult(url, "sent" if batch else "unchanged", len(by_key), len(batch), problem)


def poll_forever(
    poller: FeedPoller,
    urls: Sequence[str],
    interval: float,
    report: Callable[[list[FeedResult]], None],
    stop: threading.Event | None = None,
) -> None:
    """Poll every ``interval`` seconds (from the start of one poll to the next) until stopped."""
    stop = stop or threading.Event()
    while not stop.is_set():
        started = time.monotonic()
        report(poller.poll(urls))
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
