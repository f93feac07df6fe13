"""A local HTTP server for feed tests: fixture files on 127.0.0.1, ETag/Last-Modified, 304s.

Why not a mock: the poller's conditional requests, redirects, status codes and timeouts are
exercised through a real socket, and every request is recorded so tests can assert on headers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


@dataclass
class Resource:
    """One path's content and how the server answers for it."""

    body: bytes
    content_type: str
    etag: str | None
    last_modified: datetime | None
    status: int = 200


@dataclass(frozen=True)
class Seen:
    """A request the server received and its answer."""

    path: str
    headers: dict[str, str]
    status: int


class FeedServer:
    """Serves resources put into it; honours If-None-Match and If-Modified-Since."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.requests: list[Seen] = []
        self.honour_conditional = True
        self._lock = threading.Lock()
        self._clock = datetime(2024, 4, 12, 12, 0, tzinfo=UTC)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return self.base + path

    def put(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "application/rss+xml; charset=utf-8",
        etag: bool = True,
        last_modified: bool = True,
        status: int = 200,
    ) -> str:
        """Serve body (or a fixture file's name) at path; a new version gets new validators."""
        if isinstance(body, str):
            body = (FEEDS / body).read_bytes()
        body = body.replace(b"@BASE@", self.base.encode())
        self._clock += timedelta(minutes=1)
        self.resources[path] = Resource(
            body,
            content_type,
            '"' + hashlib.sha256(body).hexdigest()[:16] + '"' if etag else None,
            self._clock if last_modified else None,
            status,
        )
        return self.url(path)

    def seen(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:
                res = server.resources.get(self.path)
                status = 404 if res is None else res.status
                if res is not None and status == 200 and server.honour_conditional:
                    if self._not_modified(res):
                        status = 304
                with server._lock:
                    server.requests.append(Seen(self.path, dict(self.headers.items()), status))
                self.send_response(status)
                if res is not None:
                    if res.etag:
                        self.send_header("ETag", res.etag)
                    if res.last_modified:
                        self.send_header("Last-Modified", format_datetime(res.last_modified, True))
                body = res.body if res is not None and status == 200 else b"not here\n"
                if status == 304:
                    self.end_headers()
                    return
                self.send_header(
                    "Content-Type", res.content_type if res and status == 200 else "text/plain"
                )
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _not_modified(self, res: Resource) -> bool:
                inm = self.headers.get("If-None-Match")
                if inm is not None:
                    return res.etag is not None and res.etag in [t.strip() for t in inm.split(",")]
                ims = self.headers.get("If-Modified-Since")
                if ims is not None and res.last_modified is not None:
                    try:
                        return res.last_modified <= parsedate_to_datetime(ims)
                    except (TypeError, ValueError):
                        return False
                return False

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    """A started FeedServer, stopped afterwards."""
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
