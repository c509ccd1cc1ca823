"""Runs benchmark: the engine in-process (the MCP server's default mode) executing runs against
the scripted Chat Completions provider, which runs in its own process on loopback.

Measures:
- run overhead: create a run with `stream: true` until its `thread.run.completed` event, minus
  the provider's own time (the p50 of the same streamed chat completion called directly);
- 50 runs on 50 threads at once (wall time, errors), with a provider that answers at once and
  with one that takes 200 ms per call.

    uv run python bench/bench_runs.py [--database-url URL] [--postgres] [--count N] [--write]

--write replaces the "Runs (issue 3)" section of bench/RESULTS.md with this run."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
import openai
from common import (
    machine_lines,
    measure_and_report,
    percentile,
    start_provider,
    stop_provider,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support.scripted_provider

from openai_assistant_mcp.engine.app import create_app  # noqa: E402
from openai_assistant_mcp.engine.settings import EngineSettings  # noqa: E402
from openai_assistant_mcp.engine.store.database import describe_url  # noqa: E402
from openai_assistant_mcp.mcp.asgi_transport import StreamingASGITransport  # noqa: E402

HEADING = "## Runs (issue 3)"
TARGET_OVERHEAD_P50_MS = 15.0
CONCURRENT = 50
SLOW_PROVIDER_S = 0.2
QUESTION = "What is the capital of France?"


def engine_client(app: Any) -> openai.AsyncOpenAI:
    http = httpx2.AsyncClient(transport=StreamingASGITransport(app), base_url="http://engine")
    return openai.AsyncOpenAI(
        api_key="sk-bench-runs", base_url="http://engine/v1", max_retries=0, http_client=http
    )


async def streamed_run(client: openai.AsyncOpenAI, assistant_id: str) -> float:
    """Create a thread and run (streamed) and wait for the run's end; seconds taken."""
    start = time.perf_counter()
    stream = await client.beta.threads.create_and_run(
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": QUESTION}]},
        stream=True,
    )
    status = None
    async for event in stream:
        if event.event.startswith("thread.run.") and event.data.status in (  # type: ignore[union-attr]
            "completed",
            "failed",
            "cancelled",
            "expired",
            "incomplete",
        ):
            status = event.data.status  # type: ignore[union-attr]
    if status != "completed":
        raise RuntimeError(f"run ended {status}")
    return time.perf_counter() - start


async def direct_completion(provider: openai.AsyncOpenAI) -> float:
    """The provider's own time: the same streamed completion, called directly."""
    start = time.perf_counter()
    stream = await provider.chat.completions.create(
        model="bench-model",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for _ in stream:
        pass
    return time.perf_counter() - start


async def concurrent_runs(client: openai.AsyncOpenAI, assistant_id: str) -> tuple[float, int]:
    start = time.perf_counter()
    outcomes = await asyncio.gather(
        *(streamed_run(client, assistant_id) for _ in range(CONCURRENT)), return_exceptions=True
    )
    errors = sum(1 for outcome in outcomes if isinstance(outcome, BaseException))
    return time.perf_counter() - start, errors


async def measure(database_url: str | None, data_dir: Path, count: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for label, delay in (("fast", 0.0), ("slow", SLOW_PROVIDER_S)):
        child, provider_url = start_provider(delay)
        try:
            settings = EngineSettings.model_validate(
                {
                    "DATA_DIR": data_dir / label,
                    "DATABASE_URL": database_url,
                    "ENGINE_SECRET": "bench-secret",
                    "OPENAI_BASE_URL": provider_url,
                }
            )
            results["database"] = describe_url(settings.resolved_database_url())
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                client = engine_client(app)
                provider = openai.AsyncOpenAI(base_url=provider_url, api_key="sk-bench-runs")
                assistant = await client.beta.assistants.create(model="bench-model")
                if label == "fast":
                    for _ in range(20):  # warm-up: connections, caches, JIT-less Python paths
                        await streamed_run(client, assistant.id)
                        await direct_completion(provider)
                    runs, direct = [], []
                    for _ in range(count):
                        runs.append(await streamed_run(client, assistant.id) * 1000)
                        direct.append(await direct_completion(provider) * 1000)
                    results["run_ms"], results["provider_ms"] = runs, direct
                results[f"concurrent_{label}"] = await concurrent_runs(client, assistant.id)
                await client.close()
                await provider.close()
        finally:
            stop_provider(child)
    return results


def report(measured: list[tuple[str, dict[str, Any]]], count: int) -> str:
    lines = [
        HEADING,
        "",
        *machine_lines(),
        "- Engine in-process (official openai SDK over the streaming ASGI transport); scripted "
        "provider in its own process on loopback",
        "- Command: `uv run python bench/bench_runs.py --postgres --write`",
        "",
        f"Run overhead: `create_and_run` with `stream: true` until `thread.run.completed`, "
        f"{count} sequential runs after warm-up, minus the p50 of the same streamed chat "
        "completion sent to the provider directly.",
    ]
    for title, results in measured:
        lines += section(title, results)
    lines += [
        "What a run costs besides the provider: the create request (one write transaction: "
        "thread, message, run, and reading the thread's messages for the provider), the provider "
        "request through the SDK, and one write storing the message, its step and the outcome "
        "(a turn that takes "
        "over 100 ms also stores `in_progress` meanwhile); plus the SDK client parsing about a "
        "dozen stream events. Each SQLite statement is a round trip to aiosqlite's thread, so "
        "the figure moves with the load other processes put on the 2 cores.",
        "",
    ]
    return "\n".join(lines)


def section(title: str, results: dict[str, Any]) -> list[str]:
    runs, direct = results["run_ms"], results["provider_ms"]
    overhead = [r - percentile(direct, 50) for r in runs]
    fast_wall, fast_errors = results["concurrent_fast"]
    slow_wall, slow_errors = results["concurrent_slow"]
    lines = [
        "",
        f"### {title}",
        "",
        f"Database: `{results['database']}`",
        "",
        "| measure | p50 ms | p99 ms | mean ms | target |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, samples, target in (
        ("run, create -> completed", runs, ""),
        ("provider alone (direct call)", direct, ""),
        ("run overhead (run - provider p50)", overhead, f"p50 ≤ {TARGET_OVERHEAD_P50_MS:g} ms"),
    ):
        lines.append(
            f"| {name} | {percentile(samples, 50):.2f} | {percentile(samples, 99):.2f} | "
            f"{statistics.mean(samples):.2f} | {target} |"
        )
    met = "met" if percentile(overhead, 50) <= TARGET_OVERHEAD_P50_MS else "MISSED"
    lines += [
        "",
        f"Overhead target: {met}.",
        "",
        f"| {CONCURRENT} runs on {CONCURRENT} threads at once | wall s | errors | target |",
        "| --- | ---: | ---: | --- |",
        f"| provider answers at once | {fast_wall:.2f} | {fast_errors} | all complete |",
        f"| provider takes {SLOW_PROVIDER_S * 1000:.0f} ms per call | {slow_wall:.2f} | "
        f"{slow_errors} | well under 2 s |",
        "",
    ]
    return lines


def measure_on(database_url: str | None, count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as tmp:
        return asyncio.run(measure(database_url, Path(tmp), count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--count", type=int, default=200, help="timed sequential runs")
    parser.add_argument(
        "--postgres", action="store_true", help="also on a throw-away PostgreSQL (tests/support)"
    )
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    measure_and_report(parser.parse_args(), measure_on, report, HEADING, "bench_runs")


if __name__ == "__main__":
    main()
