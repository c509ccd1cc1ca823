"""Server-sent events: a run's stream events as the response body of a streamed request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from ..runs.lifecycle import FINAL_EVENTS
from ..state import Event, Subscription


def sse(event: str, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


DONE = sse("done", "[DONE]")


async def sse_stream(prologue: Iterable[Event], subscription: Subscription) -> AsyncIterator[bytes]:
    """The response body of a streamed request: `prologue`, then the run's events up to the
    first final one, then `done`. Ends with an `error` event if the executor stopped first."""
    try:
        for event, data in prologue:
            yield sse(event, data)
        finished = False
        async for event, data in subscription:
            yield sse(event, data)
            if event in FINAL_EVENTS:
                finished = True
                break
        if not finished:
            error = {
                "message": "The run stopped executing in this process before it finished; "
                "retrieve the run to see its state.",
                "type": "server_error",
                "param": None,
                "code": "server_error",
            }
            yield sse("error", error)
        yield DONE
    finally:
        subscription.close()
