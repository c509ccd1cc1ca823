"""Engine API benchmark: the official openai SDK against the app in-process (ASGI, no socket).

Measures create_message p50/p99, and the first page of list_messages / list_assistants on
collections of 100 vs 10,000 objects (seeded in bulk through the repository).

    uv run python bench/bench_engine_api.py [--database-url URL] [--write]

--write replaces the "Engine API (issue 2)" section of bench/RESULTS.md with this run."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import re
import statistics
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import openai

from openai_assistant_mcp.engine.app import create_app
from openai_assistant_mcp.engine.ids import new_id
from openai_assistant_mcp.engine.services import assistants, messages
from openai_assistant_mcp.engine.settings import EngineSettings
from openai_assistant_mcp.engine.store import repository
from openai_assistant_mcp.engine.store.database import describe_url

RESULTS = Path(__file__).parent / "RESULTS.md"
HEADING = "## Engine API (issue 2)"
SIZES = (100, 10_000)
TARGET_CREATE_P50_MS = 3.0
TARGET_LIST_P50_MS = 5.0


async def timed(call: Callable[[], Awaitable[Any]], count: int, warmup: int) -> list[float]:
    """Milliseconds per call over `count` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def seed_messages(app: Any, tenant: str, thread_id: str, count: int) -> None:
    db = app.state.engine.db
    created_at = int(time.time())
    for start in range(0, count, 1000):
        bodies = [
            messages.build(
                thread_id, {"role": "user", "content": f"seeded {i}"}, created_at=created_at
            )
            for i in range(start, min(count, start + 1000))
        ]
        async with db.write() as conn:
            await messages.insert_in(conn, tenant, bodies)


async def seed_assistants(app: Any, tenant: str, count: int) -> None:
    db = app.state.engine.db
    created_at = int(time.time())
    for start in range(0, count, 1000):
        rows = []
        for i in range(start, min(count, start + 1000)):
            body = {
                "id": new_id("asst"),
                "object": "assistant",
                "created_at": created_at,
                **assistants.DEFAULTS,
                "model": "gpt-4o",
                "name": f"seeded {i}",
            }
            rows.append(
                {"id": body["id"], "tenant": tenant, "created_at": created_at, "body": body}
            )
        async with db.write() as conn:
            await repository.insert_many(conn, repository.ASSISTANTS, rows)


def client_for(app: Any, key: str) -> openai.AsyncOpenAI:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://engine")
    return openai.AsyncOpenAI(
        api_key=key, base_url="http://engine/v1", max_retries=0, http_client=http
    )


async def run(database_url: str | None, data_dir: Path, count: int) -> dict[str, Any]:
    settings = EngineSettings.model_validate(
        {"DATA_DIR": data_dir, "DATABASE_URL": database_url, "ENGINE_SECRET": "bench-secret"}
    )
    app = create_app(settings)
    results: dict[str, Any] = {"database": describe_url(settings.resolved_database_url())}
    async with app.router.lifespan_context(app):
        hasher = app.state.engine.hasher
        writer = client_for(app, "sk-bench-writer")
        thread = await writer.beta.threads.create()
        samples = await timed(
            lambda: writer.beta.threads.messages.create(thread.id, role="user", content="Hello!"),
            count,
            warmup=50,
        )
        results["create_message"] = samples

        for size in SIZES:
            key = f"sk-bench-{size}"
            client = client_for(app, key)
            tenant = hasher.tenant_for(key)
            big = await client.beta.threads.create()
            await seed_messages(app, tenant, big.id, size)
            await seed_assistants(app, tenant, size)
            page = await client.beta.threads.messages.list(big.id)
            assert len(page.data) == 20 and page.has_more
            results[f"list_messages_{size}"] = await timed(
                lambda c=client, t=big.id: c.beta.threads.messages.list(t), count, warmup=30
            )
            results[f"list_assistants_{size}"] = await timed(
                lambda c=client: c.beta.assistants.list(), count, warmup=30
            )
            await client.close()
        await writer.close()
    return results


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def report(results: dict[str, Any], count: int) -> str:
    def row(name: str, samples: list[float], target: str) -> str:
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        return f"| {name} | {p50:.2f} | {p99:.2f} | {statistics.mean(samples):.2f} | {target} |"

    lines = [
        HEADING,
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}",
        f"- Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"- Database: `{results['database']}`; {count} timed calls per row (after warm-up), "
        "official openai SDK over httpx2's ASGI transport, in-process",
        "- Command: `uv run python bench/bench_engine_api.py --write`",
        "",
        "| operation | p50 ms | p99 ms | mean ms | target |",
        "| --- | ---: | ---: | ---: | --- |",
        row("create_message", results["create_message"], f"p50 ≤ {TARGET_CREATE_P50_MS} ms"),
    ]
    for kind in ("messages", "assistants"):
        for size in SIZES:
            lines.append(
                row(
                    f"list_{kind} first page, {size:,} {kind}",
                    results[f"list_{kind}_{size}"],
                    f"p50 ≤ {TARGET_LIST_P50_MS} ms, flat in size",
                )
            )
    create_ok = percentile(results["create_message"], 50) <= TARGET_CREATE_P50_MS
    lists_ok = all(
        percentile(results[f"list_{k}_{s}"], 50) <= TARGET_LIST_P50_MS
        for k in ("messages", "assistants")
        for s in SIZES
    )
    growth = {
        k: percentile(results[f"list_{k}_{SIZES[1]}"], 50)
        / percentile(results[f"list_{k}_{SIZES[0]}"], 50)
        for k in ("messages", "assistants")
    }
    lines += [
        "",
        f"Targets: create p50 {'met' if create_ok else 'MISSED'}; list p50 "
        f"{'met' if lists_ok else 'MISSED'}; p50 ratio {SIZES[1]:,} vs {SIZES[0]:,}: "
        + ", ".join(f"{k} {ratio:.2f}x" for k, ratio in growth.items()),
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md, keeping the others."""
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(existing):
        updated = pattern.sub(lambda _: text + "\n", existing)
    else:
        updated = existing.rstrip("\n") + "\n\n" + text + "\n"
    RESULTS.write_text(updated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    parser.add_argument("--count", type=int, default=500, help="timed calls per operation")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    # The SDK marks client.beta.* (the Assistants API) deprecated; that is the API measured.
    warnings.simplefilter("ignore", DeprecationWarning)
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as data_dir:
        results = asyncio.run(run(args.database_url, Path(data_dir), args.count))
    text = report(results, args.count)
    print(text)
    if args.write:
        write_section(text)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
