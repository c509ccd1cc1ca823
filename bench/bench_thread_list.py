"""Thread list extension benchmark: `GET /v1/x-threads?limit=100` (the page the console's
thread list reads, each thread with its newest message and run) for a tenant holding 100 vs
10,000 threads, and with every listed thread 2 vs 2,000 messages long. The page should cost the
same whatever the tenant or the threads hold (an index seek per thread, the preview cut in SQL).

    uv run python bench/bench_thread_list.py [--database-url URL] [--postgres] [--write]

--write replaces the "Thread list extension (issue 28)" section of bench/RESULTS.md."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
from common import machine_lines, measure_and_report, percentile

from openai_assistant_mcp.engine.app import create_app
from openai_assistant_mcp.engine.ids import new_id
from openai_assistant_mcp.engine.services import messages
from openai_assistant_mcp.engine.settings import EngineSettings
from openai_assistant_mcp.engine.store import repository
from openai_assistant_mcp.engine.store.database import describe_url

HEADING = "## Thread list extension (issue 28)"
PAGE = 100
# (label, threads of the tenant, messages in each of the newest PAGE threads)
CASES = (
    ("100 threads, 2 messages each", 100, 2),
    ("10,000 threads, 2 messages each", 10_000, 2),
    ("100 threads, 2,000 messages each", 100, 2_000),
)
TARGET_P50_MS = 25.0


async def seed(app: Any, tenant: str, threads: int, each: int) -> None:
    db = app.state.engine.db
    now = int(time.time())
    ids = [new_id("thread") for _ in range(threads)]
    for start in range(0, threads, 1000):
        rows = [
            {
                "id": thread_id,
                "tenant": tenant,
                "created_at": now,
                "body": {
                    "id": thread_id,
                    "object": "thread",
                    "created_at": now,
                    "tool_resources": {},
                    "metadata": {},
                },
            }
            for thread_id in ids[start : start + 1000]
        ]
        async with db.write() as conn:
            await repository.insert_many(conn, repository.THREADS, rows)
    for thread_id in ids[-PAGE:]:  # the page's threads: `each` messages, long ones
        for start in range(0, each, 1000):
            bodies = [
                messages.build(thread_id, {"role": "user", "content": f"message {i} " * 200})
                for i in range(start, min(each, start + 1000))
            ]
            async with db.write() as conn:
                await messages.insert_in(conn, tenant, bodies)


def measure(database_url: str | None, count: int) -> dict[str, Any]:
    return asyncio.run(_measure(database_url, count))


async def _measure(database_url: str | None, count: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-thread-list-"))
    settings = EngineSettings.model_validate(
        {
            "DATA_DIR": data_dir,
            "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{data_dir}/assistants.db",
            "ENGINE_SECRET": "bench-secret-0123456789abcdef0123",
        }
    )
    app = create_app(settings)
    rows: dict[str, list[float]] = {}
    async with app.router.lifespan_context(app):
        clients = {}
        for index, (label, threads, each) in enumerate(CASES):
            key = f"sk-bench-threads-{index}"
            await seed(app, app.state.engine.hasher.tenant_for(key), threads, each)
            clients[label] = httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app),
                base_url="http://engine",
                headers={"Authorization": f"Bearer {key}"},
            )
        rows = {label: [] for label in clients}
        for round_ in range(count + 20):  # turns taken, so outside load falls on all alike
            for label, client in clients.items():
                start = time.perf_counter()
                response = await client.get("/v1/x-threads", params={"limit": PAGE})
                elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == 200 and len(response.json()["data"]) == PAGE
                if round_ >= 20:
                    rows[label].append(elapsed)
        for client in clients.values():
            await client.aclose()
    return {"database": describe_url(settings.resolved_database_url()), "rows": rows}


def report(measured: list[tuple[str, dict[str, Any]]], count: int) -> str:
    lines = [
        HEADING,
        "",
        *machine_lines(),
        f"- {count} timed calls per row after 20 untimed, rows taking turns; raw HTTP over "
        "httpx2's ASGI transport, in-process; threads and messages seeded through the "
        "repository (each message ~2,000 characters)",
        "- Command: `uv run python bench/bench_thread_list.py --postgres --write`",
    ]
    for title, results in measured:
        lines += ["", f"### {title}", "", f"Database: `{results['database']}`", ""]
        lines += ["| first page of 100 | p50 ms | p99 ms | target |", "| --- | ---: | ---: | --- |"]
        for label, samples in results["rows"].items():
            lines.append(
                f"| {label} | {percentile(samples, 50):.2f} | {percentile(samples, 99):.2f} "
                f"| p50 ≤ {TARGET_P50_MS:.0f} ms, flat in size |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--write", action="store_true")
    measure_and_report(parser.parse_args(), measure, report, HEADING, "bench_thread_list")
