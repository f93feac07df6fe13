"""Where alerts go besides the topics: a signed webhook, and the log.

The webhook agent reads geomon.alerts on its own, so a slow or dead endpoint delays only
webhook deliveries, never the alert stream. Each POST carries the Alert JSON and an
``X-Geomon-Signature: sha256=<hex>`` header, an HMAC-SHA256 of the body with the secret from
``GEOMON_WEBHOOK_SECRET``; receivers recompute it to trust the sender. Failed deliveries (after
retries with exponential backoff) go to geomon.alerts.dlq with the reason in headers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass

import aiohttp

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Geomon-Signature"


def sign(body: bytes, secret: str) -> str:
    """The signature header value for a body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Constant-time check of a received signature (what a receiver does)."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)


@dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one alert to one URL."""

    url: str
    ok: bool
    attempts: int
    detail: str


async def deliver(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    secret: str | None,
    alert_id: str,
    timeout: float,
    retries: int,
    backoff: float,
) -> Delivery:
    """POST with retries; 2xx is success, anything else is retried, then reported."""
    headers = {"Content-Type": "application/json", "X-Geomon-Alert-Id": alert_id}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    detail = ""
    for attempt in range(1, retries + 2):
        try:
            async with session.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                if 200 <= resp.status < 300:
                    return Delivery(url, True, attempt, f"HTTP {resp.status}")
                detail = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = f"{type(exc).__name__}: {exc}"[:200]
        if attempt <= retries:
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
    log.warning("webhook %s failed for alert %s: %s", url, alert_id, detail)
    return Delivery(url, False, retries + 1, detail)
