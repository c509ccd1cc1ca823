"""A request holding 100,000+ items does not stall the event loop (issue 21 item 8; issue 11
found a 117,000-message thread create holding the loop 8.5 s). The engine runs in-process, on
the test's own event loop, while a heartbeat task ticks every 5 ms; the loop thread's CPU time
between two ticks is the stall. CPU time, not wall-clock: on this shared 2-core machine the
process itself can wait for a core for a while, which is no stall of ours."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx2
import pytest

ITEMS = 117_000  # issue 11's probe; every body below stays within the door's 4 MiB cap
BODY_CAP = 4 * 1024 * 1024  # MAX_REQUEST_BODY_BYTES (this in-process app has no door)
# issue 21: "does not stall the event loop over 1 s". A CPU-time bound: measured here (load
# 15 on 2 cores) the worst shape took 0.45-0.53 s, FastAPI's own parse of the 3 MB body and
# the garbage collections it triggers; today's main took 1.2-1.4 s on the attachments shape
# (the engine's input check walked the 117,000 items on the loop).
STALL_CPU_BOUND = 1.0


class Heartbeat:
    """Ticks every 5 ms on the running loop; `longest` is the most loop-thread CPU time that
    passed between two ticks."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.ticks = 0
        self._last = time.thread_time()
        self._task: asyncio.Task[None] | None = None

    def _tick(self) -> None:
        now = time.thread_time()
        self.longest = max(self.longest, now - self._last)
        self.ticks += 1
        self._last = now

    async def _beat(self) -> None:
        self._last = time.thread_time()
        while True:
            await asyncio.sleep(0.005)
            self._tick()

    async def __aenter__(self) -> Heartbeat:
        self._task = asyncio.create_task(self._beat())
        await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._tick()  # the gap since the last tick counts too (the request may have filled it)
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


def shapes(thread_id: str, store_id: str) -> dict[str, tuple[str, dict[str, Any], str]]:
    """name -> (path, body, the field the refusal names)."""
    text_part = {"type": "text", "text": "x"}
    attachment = {"file_id": "f", "tools": []}
    return {
        "thread messages": (
            "/v1/threads",
            {"messages": [{"role": "user", "content": "m"}] * ITEMS},
            "messages",
        ),
        "message content parts": (
            f"/v1/threads/{thread_id}/messages",
            {"role": "user", "content": [text_part] * ITEMS},
            "content",
        ),
        "message attachments": (
            f"/v1/threads/{thread_id}/messages",
            {"role": "user", "content": "x", "attachments": [attachment] * ITEMS},
            "attachments",
        ),
        "vector store file_ids": ("/v1/vector_stores", {"file_ids": ["f"] * ITEMS}, "file_ids"),
        "file batch file_ids": (
            f"/v1/vector_stores/{store_id}/file_batches",
            {"file_ids": ["f"] * ITEMS},
            "file_ids",
        ),
        "assistant tools": (
            "/v1/assistants",
            {"model": "m", "tools": [{"type": "code_interpreter"}] * ITEMS},
            "tools",
        ),
    }


async def test_requests_of_100k_items_are_refused_without_stalling_the_loop(
    http: httpx2.AsyncClient,
) -> None:
    thread_id = (await http.post("/v1/threads", json={})).json()["id"]
    store_id = (await http.post("/v1/vector_stores", json={})).json()["id"]
    for name, (path, body, field) in shapes(thread_id, store_id).items():
        content = json.dumps(body, separators=(",", ":")).encode()  # not the loop's work
        assert len(content) <= BODY_CAP, name
        async with Heartbeat() as beat:
            response = await http.post(
                path, content=content, headers={"Content-Type": "application/json"}
            )
        assert response.status_code == 400, (name, response.text[:300])
        error = response.json()["error"]
        assert field in (error["param"] or "") or field in error["message"], (name, error)
        assert beat.ticks > 0
        assert beat.longest < STALL_CPU_BOUND, f"{name}: the loop was busy {beat.longest:.2f} s"
