"""Run stream events: an in-process fan-out per run (the API encodes them as server-sent events)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ..state import Event

_END = "__end__"


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
