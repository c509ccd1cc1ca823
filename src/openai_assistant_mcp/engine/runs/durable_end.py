"""A run's end stored in spite of passing storage failures (disk full, database locked).

The end is retried with back-off for RUN_END_RETRY_SECONDS; then the run ends `failed` saying
storage failed, keeping what the turn streamed if it fits, else without it; while even that
cannot be stored, the executor's poller tries again (the process keeps it in memory)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..store.database import unavailable_reason
from .host import RunGone
from .lifecycle import RunStatus

log = logging.getLogger(__name__)

STORAGE_FAILED = (
    "The engine could not store this run's outcome: {reason}. What the model had answered is "
    "kept where space allowed. Create a new run."
)
# Details of a failed end worth keeping (the rest is the outcome storage refused).
_KEPT = ("unsaved", "started_at", "execution")

End = Callable[..., Awaitable[Any]]


def storage_error(reason: str) -> dict[str, str]:
    return {"code": "server_error", "message": STORAGE_FAILED.format(reason=reason)}


class DurableEnd:
    """Ends runs through `end` (the executor's), riding out storage failures."""

    def __init__(self, end: End, retry_seconds: float) -> None:
        self.end = end
        self.retry_seconds = retry_seconds
        # Run id -> the failed end still to store, with what its turn streamed.
        self.unwritten: dict[str, dict[str, Any]] = {}

    async def __call__(self, run_id: str, status: str, **details: Any) -> None:
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                await self.end(run_id, status, **details)
                return
            except Exception as exc:
                reason = unavailable_reason(exc)
                if reason is None:
                    raise
            left = deadline - time.monotonic()
            if left <= 0:
                break
            log.warning("could not store the end of run %s (%s); retrying", run_id, reason)
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)
        log.error("run %s: storage failed (%s); it ends failed", run_id, reason)
        kept = {k: details[k] for k in _KEPT if k in details}
        self.unwritten[run_id] = {"last_error": storage_error(reason), **kept}
        await self.retry(run_id)

    async def retry(self, run_id: str) -> None:
        """Store the failed end of `run_id`: with what was streamed if it fits, else without;
        kept for the next try while nothing fits."""
        details = self.unwritten[run_id]
        lighter = {k: v for k, v in details.items() if k != "unsaved"}
        for attempt in (details, lighter):
            try:
                await self.end(run_id, RunStatus.FAILED, **attempt)
            except RunGone:
                break
            except Exception as exc:
                log.warning("run %s: end not stored: %s", run_id, type(exc).__name__)
                continue
            break
        else:
            return
        self.unwritten.pop(run_id, None)
