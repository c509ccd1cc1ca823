"""Run stream events: an in-process fan-out per run, and the server-sent event encoding."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

Event = tuple[str, Any]

# After these the run waits (requires_action) or is over: the stream ends with `done`.
FINAL_EVENTS = frozenset(
    {
        "thread.run.requires_action",
        "thread.run.completed",
        "thread.run.incomplete",
        "thread.run.failed",
        "thread.run.cancelled",
        "thread.run.expired",
    }
)
_END = "__end__"


def sse(event: str, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


DONE = sse("done", "[DONE]")


class Subscription:
    """The events of one run, in order, from the moment of subscribing."""

    def __init__(self, bus: RunEvents, run_id: str) -> None:
        self._bus = bus
        self.run_id = run_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        while True:
            event = await self.queue.get()
            if event[0] == _END:
                return
            yield event

    def finish(self) -> None:
        """The turn it follows is over: the iterator ends once it has read what came before."""
        self.queue.put_nowait((_END, None))

    def close(self) -> None:
        self._bus.unsubscribe(self)


class RunEvents:
    """Publishes each run's events to whoever subscribed to that run (none: nothing is kept)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscription]] = {}

    def subscribe(self, run_id: str) -> Subscription:
        subscription = Subscription(self, run_id)
        self._subscribers.setdefault(run_id, []).append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.run_id, [])
        if subscription in subscribers:
            subscribers.remove(subscription)
        if not subscribers:
            self._subscribers.pop(subscription.run_id, None)

    def wanted(self, run_id: str) -> bool:
        return run_id in self._subscribers

    def publish(self, run_id: str, event: str, data: Any) -> None:
        for subscription in self._subscribers.get(run_id, ()):
            subscription.queue.put_nowait((event, data))


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
