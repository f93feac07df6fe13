"""Stand-ins for Faust topic sends in test_context() tests: record calls, ack at once."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import AsyncMock


def fake_send() -> AsyncMock:
    """A topic.send stand-in that records calls and returns an already-acked future."""

    async def send(**kwargs: Any) -> asyncio.Future[None]:
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    return AsyncMock(side_effect=send)


def sent(topic: Any) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    """(key, value, headers) of every send made through a fake_send()."""
    return [(c.kwargs.get("key"), c.kwargs["value"], c.kwargs.get("headers") or {})
            for c in topic.send.call_args_list]
