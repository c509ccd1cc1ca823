"""The HTTP guard's own cost per request: one ASGI request (Host check, key header check, body
read and depth check, the per-key limiter) through the REST API's guard in front of an app that
answers at once. Runs against whichever openai_assistant_mcp is importable, so two versions can
be compared side by side (PYTHONPATH=old/src for the older one):

    uv run python bench/bench_guard.py            # this tree
    PYTHONPATH=/tmp/old/src uv run python bench/bench_guard.py   # e.g. `git archive 3683277 src`
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

BODY = b'{"model": "m", "name": "bench", "metadata": {"a": "b"}}'
HEADERS = [
    (b"host", b"127.0.0.1:8663"),
    (b"authorization", b"Bearer sk-bench-key"),
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]


def guard_for(app: Any) -> tuple[str, Any]:
    try:  # this tree: the one guard in http/, built by engine/serve.py
        from openai_assistant_mcp.engine.serve import api_guard
        from openai_assistant_mcp.engine.settings import APIGuardSettings

        return "http/guard.py", api_guard(app, APIGuardSettings())
    except ImportError:  # before issue 10: engine/http_guards.py
        from openai_assistant_mcp.engine.http_guards import APIGuard
        from openai_assistant_mcp.engine.http_policy import APIGuardSettings as Old

        return "engine/http_guards.py", APIGuard(app, Old())


async def app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def one(guard: Any) -> None:
    scope = {"type": "http", "method": "POST", "path": "/v1/assistants", "headers": HEADERS}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    await guard(scope, receive, send)


async def main(rounds: int = 5, per_round: int = 20000) -> None:
    name, guard = guard_for(app)
    for _ in range(2000):
        await one(guard)
    means = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            await one(guard)
        means.append((time.perf_counter() - start) / per_round * 1e6)
    print(
        f"{name}: {statistics.median(means):.1f} µs per request (median of {rounds} rounds of "
        f"{per_round}; min {min(means):.1f}, max {max(means):.1f})"
    )


if __name__ == "__main__":
    asyncio.run(main(*(int(a) for a in sys.argv[1:])))
