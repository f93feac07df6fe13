"""Feed polling without a broker: a recording producer and the local feed server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from streams.feeds import (
    FeedPoller,
    FeedResult,
    SeenStore,
    entry_key,
    entry_published,
    entry_text,
    html_to_text,
    poll_forever,
)
from streams.ingest import record_timestamp_ms
from tests.feed_server import FEEDS, FeedServer, feed_server


@dataclass
class Future:
    ok: bool

    def succeeded(self) -> bool:
        return self.ok


@dataclass
class RecordingProducer:
    """kafka-python's send/flush, keeping what was sent; `fail` makes every send fail."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False

    def send(self, topic: str, key: bytes | None, value: bytes, timestamp_ms: int | None) -> Future:
        if not self.fail:
            self.sent.append({"topic": topic, "key": key, "value": value, "ts": timestamp_ms})
        return Future(not self.fail)

    def flush(self) -> None:
        pass

    def articles(self) -> list[dict[str, Any]]:
        return [json.loads(s["value"]) for s in self.sent]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        yield s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SeenStore]:
    s = SeenStore(tmp_path / "state" / "feeds.sqlite3")
    yield s
    s.close()


def parse(name: str) -> Any:
    return feedparser.parse((FEEDS / name).read_bytes().replace(b"@BASE@", b"http://x.test"))


# --- entry → article pieces ------------------------------------------------------------------


def test_html_to_text_keeps_blocks_and_drops_scripts() -> None:
    html = (
        "<p>First <b>bold</b> &amp; <a href='x'>linked</a>.</p><p>Second&nbsp;one.</p>"
        "<ul><li>one</li><li>two</li></ul><script>var x = 1;</script>tail<br>after"
    )
    assert html_to_text(html) == "First bold & linked.\nSecond one.\none\ntwo\ntail\nafter"
    assert html_to_text("   ") == ""
    assert html_to_text("no tags at all") == "no tags at all"


def test_entry_text_prefers_content_then_summary_then_title() -> None:
    rss = parse("meridian_rss.xml").entries
    assert entry_text(rss[0]) == (
        "Iran signed a shipping memorandum with North Korea on Friday, officials in Tehran said."
        "\nThe text was not published & no figures were given."
    )
    # content:encoded wins over the teaser; the script the feed carried is gone
    assert entry_text(rss[1]) == (
        "Russia hosted a North Korean trade delegation in Vladivostok on Thursday.\n"
        "Talks covered rail freight.\nNo agreement was announced."
    )
    atom = parse("veilleur_atom.xml").entries
    assert entry_text(atom[0]).startswith("La France a signé vendredi un accord")
    # a plain-text summary is kept as text, not parsed as HTML
    assert entry_text(atom[1]) == (
        "Le Japon et la Corée du Sud ont repris jeudi leurs consultations de sécurité & de défense."
    )
    bare = feedparser.parse(
        "<rss version='2.0'><channel><title>t</title><item><title> Only  a headline </title>"
        "</item></channel></rss>"
    ).entries[0]
    assert entry_text(bare) == "Only a headline"


def test_published_is_utc_from_published_else_updated() -> None:
    rss = parse("meridian_rss.xml").entries
    assert entry_published(rss[0]) == datetime(2024, 4, 12, 7, 30, tzinfo=UTC)  # +0200 in feed
    atom = parse("veilleur_atom.xml").entries
    assert entry_published(atom[0]) == datetime(2024, 4, 12, 5, 15, tzinfo=UTC)  # not updated
    assert entry_published(atom[1]) == datetime(2024, 4, 11, 21, 0, tzinfo=UTC)  # updated only
    undated = feedparser.parse(
        "<rss version='2.0'><channel><item><title>x</title></item></channel></rss>"
    ).entries[0]
    assert entry_published(undated) is None


def test_entry_key_is_id_else_link_else_title_and_date() -> None:
    rss = parse("meridian_rss.xml").entries
    assert entry_key(rss[0]) == "id:meridian-2024-0412"
    assert entry_key(rss[2]) == "link:http://x.test/articles/harbour-strike"
    doc = (
        "<rss version='2.0'><channel><item><title>{t}</title>"
        "<pubDate>Wed, 10 Apr 2024 06:00:00 GMT</pubDate></item></channel></rss>"
    )
    a, b, c = (feedparser.parse(doc.format(t=t)).entries[0] for t in ("one", "one", "two"))
    assert entry_key(a).startswith("hash:")
    assert entry_key(a) == entry_key(b) != entry_key(c)


# --- polling ---------------------------------------------------------------------------------


def test_poll_sends_each_entry_once_and_honours_etag(server: FeedServer, store: SeenStore) -> None:
    rss = server.put("/rss", "meridian_rss.xml")
    atom = server.put("/atom", "veilleur_atom.xml", "application/atom+xml")
    producer = RecordingProducer()
    poller = FeedPoller(producer, "t.articles", store)

    first = poller.poll([rss, atom])
    assert [(r.status, r.entries, r.sent) for r in first] == [("sent", 3, 3), ("sent", 2, 2)]
    arts = producer.articles()
    assert len(arts) == 5
    by_title = {a["title"]: a for a in arts}
    iran = by_title["Iran and North Korea sign a shipping memorandum"]
    assert iran["source"] == "The Meridian Courier"
    assert iran["url"] == server.url("/articles/iran-dprk-shipping")
    assert iran["published_at"] == "2024-04-12T07:30:00Z"
    assert iran["text"].startswith("Iran signed a shipping memorandum")
    assert iran["ingested_at"] and iran["fetched_at"]
    assert by_title["Le Japon et la Corée du Sud reprennent leurs consultations"]["source"] == (
        "Le Veilleur du Large"
    )
    for sent, art in zip(producer.sent, arts, strict=True):
        assert sent["topic"] == "t.articles"
        assert sent["key"] == art["id"].encode()
        published = datetime.fromisoformat(art["published_at"])
        assert sent["ts"] == record_timestamp_ms(published)
    assert len({a["id"] for a in arts}) == 5
    rss_times = [s["ts"] for s in producer.sent[:3]]
    assert rss_times == sorted(rss_times)  # oldest first, although the feed lists newest first

    # unchanged feed: a conditional request, answered 304, sends nothing
    second = poller.poll([rss, atom])
    assert [r.status for r in second] == ["not_modified", "not_modified"]
    assert len(producer.sent) == 5
    last = server.seen("/rss")[-1]
    assert last.status == 304
    assert last.headers["If-None-Match"] == server.resources["/rss"].etag
    assert "If-Modified-Since" in last.headers

    # a server that ignores validators: the seen-set still sends nothing, also after a restart
    server.honour_conditional = False
    assert [r.status for r in poller.poll([rss, atom])] == ["unchanged", "unchanged"]
    restarted = FeedPoller(producer, "t.articles", SeenStore(store.path))
    assert [(r.status, r.sent) for r in restarted.poll([rss, atom])] == [
        ("unchanged", 0),
        ("unchanged", 0),
    ]
    assert len(producer.sent) == 5

    # one new entry: exactly that one
    server.honour_conditional = True
    server.put("/rss", "meridian_rss_v2.xml")
    third = restarted.poll([rss, atom])
    assert [(r.status, r.entries, r.sent) for r in third] == [
        ("sent", 4, 1),
        ("not_modified", 0, 0),
    ]
    assert producer.articles()[-1]["title"] == "China and Russia hold a joint naval drill"
    assert producer.sent[-1]["ts"] == record_timestamp_ms(datetime(2024, 4, 13, 11, 45, 30, tzinfo=UTC))


def test_last_modified_alone_gives_304(server: FeedServer, store: SeenStore) -> None:
    url = server.put("/lm", "veilleur_atom.xml", "application/atom+xml", etag=False)
    producer = RecordingProducer()
    poller = FeedPoller(producer, "t", store)
    assert poller.poll([url])[0].sent == 2
    again = poller.poll([url])[0]
    assert again.status == "not_modified"
    req = server.seen("/lm")[-1]
    assert "If-None-Match" not in req.headers
    assert req.headers["If-Modified-Since"].endswith("GMT")


def test_bad_feeds_are_reported_and_do_not_stop_the_others(
    server: FeedServer, store: SeenStore
) -> None:
    good = server.put("/good", "meridian_rss.xml")
    broken = server.put("/broken", "broken.xml")
    html = server.put("/page", "article_page.html", "text/html")
    failing = server.put("/500", b"oops", status=500)
    missing = server.url("/nothing-here")
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/feed"
    producer = RecordingProducer()
    results = FeedPoller(producer, "t", store, timeout=5).poll(
        [broken, failing, good, missing, closed, html, "ftp://example.invalid/feed"]
    )
    by_url = {r.url: r for r in results}
    assert [r.url for r in results][2] == good
    assert by_url[good].status == "sent" and by_url[good].sent == 3
    assert by_url[broken].status == "error" and "malformed feed" in (by_url[broken].problem or "")
    assert by_url[broken].problem == (
        "malformed feed (line 5, column 19): not well-formed (invalid token)"
    )
    assert by_url[html].status == "error"
    assert (by_url[html].problem or "").startswith("not an RSS or Atom feed")
    assert by_url[failing].problem == "HTTP 500 Internal Server Error"
    assert by_url[missing].problem == "HTTP 404 Not Found"
    assert "cannot fetch" in (by_url[closed].problem or "")
    assert "not an http(s) URL" in (by_url["ftp://example.invalid/feed"].problem or "")
    assert sum(not r.ok for r in results) == 6
    assert all(r.url in r.describe() for r in results)
    assert len(producer.sent) == 3


def test_a_feed_feedparser_can_recover_is_sent_with_a_warning(
    server: FeedServer, store: SeenStore
) -> None:
    url = server.put(
        "/loose",
        b"<rss version='2.0'><channel><title>Ports & Harbours</title><item><title>Ferry"
        b" line reopens</title><link>@BASE@/ferry</link></item></channel></rss>",
    )
    producer = RecordingProducer()
    result = FeedPoller(producer, "t", store).poll([url])[0]
    assert result.ok and result.sent == 1
    assert (result.problem or "").startswith("malformed feed")
    assert "warning: malformed feed" in result.describe()
    assert producer.articles()[0]["text"] == "Ferry line reopens"


def test_failed_sends_are_retried_next_poll(server: FeedServer, store: SeenStore) -> None:
    url = server.put("/rss", "meridian_rss.xml")
    failing = RecordingProducer(fail=True)
    result = FeedPoller(failing, "t", store).poll([url])[0]
    assert result.status == "error" and "not acknowledged" in (result.problem or "")
    assert store.seen_count(url) == 0
    assert store.validators(url) == (None, None)  # so the next poll is not answered 304
    ok = RecordingProducer()
    assert FeedPoller(ok, "t", store).poll([url])[0].sent == 3
    assert store.seen_count(url) == 3


def test_fetch_takes_the_linked_page_text_and_falls_back(
    server: FeedServer, store: SeenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.put("/rss", "meridian_rss.xml")
    server.put("/articles/russia-dprk-trade", "article_page.html", "text/html; charset=utf-8")
    connected: list[Any] = []
    real_connect = socket.socket.connect

    def spy(self: socket.socket, address: Any) -> Any:
        connected.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    producer = RecordingProducer()
    FeedPoller(producer, "t", store, fetch_pages=True).poll([url])
    by_title = {a["title"]: a for a in producer.articles()}
    page = by_title["Russia hosts a North Korean trade delegation"]["text"]
    assert "the regional government said in a statement" in page
    assert "Analysts in Seoul" in page
    assert "Football results" not in page and "Sign in" not in page
    # pages that are missing (404) fall back to the entry's own text
    assert by_title["Harbour strike ends after nine days"]["text"] == (
        "Dock workers returned to work on Wednesday morning."
    )
    # the extractor downloads nothing: every connection went to the local server
    assert connected and all(addr[0] == "127.0.0.1" for addr in connected)


def test_poll_forever_stops_when_asked(server: FeedServer, store: SeenStore) -> None:
    url = server.put("/rss", "meridian_rss.xml")
    stop = threading.Event()
    seen: list[list[FeedResult]] = []

    def report(results: list[FeedResult]) -> None:
        seen.append(results)
        if len(seen) == 2:
            stop.set()

    poll_forever(FeedPoller(RecordingProducer(), "t", store), [url], 0.01, report, stop)
    assert [[r.status for r in rs] for rs in seen] == [["sent"], ["not_modified"]]
