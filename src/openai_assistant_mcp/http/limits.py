"""Per-caller limits and the HTTP limits' settings (shared by both servers: same env names).

A caller is whoever holds one credential (an API key, or nothing). Each caller may have
`max_concurrent` calls running and `max_queued` more waiting for a slot; beyond that a call is
refused at once, as it is when the caller's rate (a token bucket refilled at `per_minute`) is
spent. Both refusals are `LimitExceeded`, whose message names the limit and its setting. The
MCP server counts tool calls, the REST API requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from .env_names import DocumentedSettings


class HTTPLimitSettings(DocumentedSettings):
    """Limits shared by the MCP HTTP transports and the REST API (env names are the same)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
    cli_group: ClassVar[str] = "HTTP access and limits"

    max_request_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        alias="MAX_REQUEST_BODY_BYTES",
        description="largest request body accepted (413 beyond)",
    )
    max_concurrent_per_key: int = Field(
        default=64,
        ge=1,
        alias="MAX_CONCURRENT_PER_KEY",
        description="calls running at once per API key",
    )
    max_queued_per_key: int = Field(
        default=256,
        ge=0,
        alias="MAX_QUEUED_PER_KEY",
        description="calls waiting per API key beyond those running (429 beyond)",
    )
    rate_limit_per_minute: int = Field(
        default=0,
        ge=0,
        alias="RATE_LIMIT_PER_MINUTE",
        description="calls per minute per API key (429 beyond); 0 turns it off",
    )
    http_max_connections: int = Field(
        default=1000,
        ge=1,
        alias="HTTP_MAX_CONNECTIONS",
        description="connections and requests held at once (503 beyond)",
    )
    http_read_timeout: float = Field(
        default=15.0,
        gt=0,
        alias="HTTP_READ_TIMEOUT",
        description="seconds a client has to send a request's headers, and then its body",
    )
    shutdown_grace_seconds: float = Field(
        default=8.0,
        ge=0,
        alias="SHUTDOWN_GRACE_SECONDS",
        description="on SIGTERM, seconds the work in flight gets to finish",
    )

    max_calls_in_flight: int = Field(
        default=8,
        ge=0,
        alias="MAX_CALLS_IN_FLIGHT",
        description="MCP tool calls on the embedded engine served at once over every key, "
        "those waiting on a run aside; the rest wait in line, writes first; 0: no line",
    )

    def limiter(self, what: str, *, line: bool = False) -> CallerLimiter:
        """A limiter with these limits; `what` names the things counted ("tool calls").
        `line`: with the server-wide line of quick calls (where the calls' work is this
        process's CPU, the embedded engine; a remote API's calls just wait on the network)."""
        return CallerLimiter(
            self.max_concurrent_per_key,
            self.max_queued_per_key,
            self.rate_limit_per_minute,
            what=what,
            in_flight=self.max_calls_in_flight if line else 0,
        )


class LimitExceeded(Exception):
    """A call refused by a limit; `message` names it, `retry_after` says when to try again."""

    def __init__(self, message: str, retry_after: float, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.code = code


@dataclass
class _Caller:
    slots: asyncio.Semaphore
    tokens: float
    refilled_at: float
    waiting: int = 0
    running: int = 0
    last_used: float = field(default_factory=time.monotonic)


class CallerLimiter:
    """Concurrency, queue and rate limits per credential (see the module docstring)."""

    def __init__(
        self,
        max_concurrent: int,
        max_queued: int,
        per_minute: int,
        *,
        what: str = "requests",
        in_flight: int = 0,
    ) -> None:
        self.gate = AdmissionLine(in_flight) if in_flight else None
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self.per_minute = per_minute
        self.what = what
        self._callers: dict[str, _Caller] = {}
        self._prune_above = 1024

    @property
    def in_flight(self) -> int:
        """Calls running or waiting, over every caller."""
        return sum(c.running + c.waiting for c in self._callers.values())

    @asynccontextmanager
    async def slot(
        self, credential: str | None, *, gated: bool = False, write: bool = False
    ) -> AsyncIterator[None]:
        """Hold one of the caller's slots for the body of the `async with`; a `gated` call
        (a quick one) also waits its turn in the server-wide line (`write`s go first)."""
        caller = self._caller(credential)
        if caller.slots.locked() and caller.waiting >= self.max_queued:
            raise LimitExceeded(
                f"Too many concurrent {self.what} for this API key: at most "
                f"{self.max_concurrent} running and {self.max_queued} waiting "
                "(MAX_CONCURRENT_PER_KEY, MAX_QUEUED_PER_KEY). Retry when one has finished.",
                retry_after=1.0,
                code="concurrency_limit_exceeded",
            )
        self._take_token(caller)
        caller.waiting += 1
        try:
            await caller.slots.acquire()
        finally:
            caller.waiting -= 1
        caller.running += 1
        try:
            if gated and self.gate is not None:
                async with self.gate.turn(write):
                    yield
            else:
                yield
        finally:
            caller.running -= 1
            caller.last_used = time.monotonic()
            caller.slots.release()

    def _caller(self, credential: str | None) -> _Caller:
        # Keyed by a digest: the limiter lives as long as the server and must not hold keys.
        name = hashlib.sha256((credential or "").encode()).hexdigest()
        caller = self._callers.get(name)
        if caller is None:
            if len(self._callers) >= self._prune_above:
                self._prune()
            now = time.monotonic()
            caller = _Caller(
                asyncio.Semaphore(self.max_concurrent), float(self.per_minute), refilled_at=now
            )
            self._callers[name] = caller
        return caller

    def _take_token(self, caller: _Caller) -> None:
        if not self.per_minute:
            return
        now = time.monotonic()
        rate = self.per_minute / 60.0
        caller.tokens = min(
            float(self.per_minute), caller.tokens + (now - caller.refilled_at) * rate
        )
        caller.refilled_at = now
        if caller.tokens < 1.0:
            wait = (1.0 - caller.tokens) / rate
            raise LimitExceeded(
                f"Rate limit reached for this API key: at most {self.per_minute} {self.what} "
                f"per minute (RATE_LIMIT_PER_MINUTE). Try again in {wait:.1f} s.",
                retry_after=wait,
                code="rate_limit_exceeded",
            )
        caller.tokens -= 1.0

    def _prune(self) -> None:
        """Forget idle callers whose rate bucket has refilled (they look like new ones)."""
        now = time.monotonic()
        refill = 60.0 if self.per_minute else 0.0
        for name, caller in list(self._callers.items()):
            if caller.running + caller.waiting == 0 and now - caller.last_used >= refill:
                del self._callers[name]
        self._prune_above = max(1024, 2 * len(self._callers))


WRITES_IN_A_ROW = 4  # writes let in ahead of waiting reads before one read goes


class AdmissionLine:
    """At most `limit` calls served at once; the rest wait in line, writes before reads.

    Why: on a saturated event loop every call in progress shares the loop, so each takes as
    long as all of them together; served a few at a time, each finishes quickly and a write
    (one short transaction) does not wait behind a crowd of reads (bench/RESULTS.md)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.free = limit
        self.lines: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (
            deque(),  # writes
            deque(),  # reads
        )
        self.writes_in_a_row = 0

    @property
    def waiting(self) -> int:
        return sum(len(line) for line in self.lines)

    @asynccontextmanager
    async def turn(self, write: bool) -> AsyncIterator[None]:
        if self.free > 0 and not self.waiting:
            self.free -= 1
        else:
            admitted = asyncio.get_running_loop().create_future()
            self.lines[0 if write else 1].append(admitted)
            try:
                await admitted
            except asyncio.CancelledError:
                if admitted.cancelled():  # still in line (or skipped by _release): leave it
                    with contextlib.suppress(ValueError):
                        self.lines[0 if write else 1].remove(admitted)
                else:  # let in just as it was cancelled: pass the turn on
                    self._release()
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        writes, reads = self.lines
        # Writes first, but never more than WRITES_IN_A_ROW while reads wait: no starving.
        order = (writes, reads) if self.writes_in_a_row < WRITES_IN_A_ROW else (reads, writes)
        for line in order:
            while line:
                waiter = line.popleft()
                if not waiter.done():  # a cancelled one leaves by itself
                    self.writes_in_a_row = self.writes_in_a_row + 1 if line is writes else 0
                    waiter.set_result(None)
                    return
        self.free += 1
