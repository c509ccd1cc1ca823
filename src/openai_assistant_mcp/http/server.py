"""The uvicorn server both HTTP servers run on: bounded connections, stalled connections
closed, and on SIGTERM no new work while the work in flight finishes within a grace period."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from .limits import HTTPLimitSettings


def uvicorn_limits(limits: HTTPLimitSettings) -> dict[str, Any]:
    """uvicorn.Config options that bound what clients can hold: connections in total, idle
    keep-alive time, and the final wait of a shutdown (the drain is GuardedServer's)."""
    return {
        "limit_concurrency": limits.http_max_connections,
        "timeout_keep_alive": 5,
        "timeout_graceful_shutdown": 1,
    }


class GuardedServer(uvicorn.Server):
    """uvicorn that closes stalled connections and drains in-flight work on SIGTERM/SIGINT.

    `in_flight()` counts the work to wait for (requests, or tool calls); `drain()` is called
    when shutdown starts, so the app refuses new work while that finishes."""

    def __init__(
        self,
        config: uvicorn.Config,
        limits: HTTPLimitSettings,
        in_flight: Callable[[], int],
        drain: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self.read_timeout = limits.http_read_timeout
        self.grace = limits.shutdown_grace_seconds
        self.in_flight = in_flight
        self.drain = drain
        self._reaper: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._reaper = asyncio.create_task(self._close_stalled_connections())

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for server in self.servers:  # stop accepting
            server.close()
        self.drain()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        while self.in_flight() and loop.time() < deadline and not self.force_exit:  # noqa: ASYNC110 - counted, not signalled
            await asyncio.sleep(0.05)
        await super().shutdown(sockets)

    async def _close_stalled_connections(self) -> None:
        """Close connections that have not sent a full request's headers for read_timeout
        seconds (a slowloris client, or one that connects and says nothing). Reads uvicorn's
        connection set and each protocol's `cycle`/`transport`: uvicorn has no time-out for a
        connection that never completes a request (its keep-alive timer starts after a
        response), and no public handle on its connections."""
        idle_since: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self.read_timeout / 4))
            now = loop.time()
            for connection in list(self.server_state.connections):
                cycle = getattr(connection, "cycle", None)
                if cycle is not None and not cycle.response_complete:
                    idle_since.pop(connection, None)  # serving a request
                    continue
                if now - idle_since.setdefault(connection, now) >= self.read_timeout:
                    transport = getattr(connection, "transport", None)
                    if transport is not None:
                        transport.close()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Like uvicorn's, but without re-raising the signal afterwards: the process then
        finishes its own shutdown (e.g. the engine releasing its runs) and exits 0."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
