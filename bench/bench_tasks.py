"""Runs as MCP tasks (issue 27): what a poll costs. The server in-process with the embedded
engine (SQLite), the official MCP client declaring the tasks extension (protocol 2026-07-28);
side by side, interleaved: `tasks/get` on a finished run's task against the `get_run` tool call
it stands for (both read the run and shape the same result), and a run started as a task
against `create_run` with `wait: false`. The runs fail at once (no model provider: a closed
port), so the figures are the MCP and API work, not a model's.

    uv run python bench/bench_tasks.py [--calls 200] [--write]

--write replaces the "Runs as MCP tasks (issue 27)" section of bench/RESULTS.md."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from common import free_port, machine_lines, percentile, write_section
from mcp import Client

sys.path.insert(0, str(Path(__file__).parents[1]))  # the repository root, for tests/
from openai_assistant_mcp.mcp.app import ToolServer
from openai_assistant_mcp.settings import Settings
from tests.support.mcp_tasks import (
    RunTasksClient,
    get_task,
    start_task,
    wait_for_status,
)

HEADING = "## Runs as MCP tasks (issue 27)"


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await fn()
    return (time.perf_counter() - start) * 1000


async def measure(calls: int) -> dict[str, list[float]]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-tasks-"))
    settings = Settings(
        data_dir=data_dir,
        provider_api_key="sk-bench",
        provider_base_url=f"http://127.0.0.1:{free_port()}/v1",  # nothing listens: runs fail
    )
    server = ToolServer(settings)
    samples: dict[str, list[float]] = {k: [] for k in ("tasks/get", "get_run", "task", "no wait")}
    async with anyio.create_task_group() as group:
        group.start_soon(server.backend.run)
        server.backend.want()
        await server.backend.ready()
        async with Client(server.lowlevel_server(), extensions=[RunTasksClient()]) as client:
            made = await client.call_tool("create_assistant", {"model": "bench"})
            assistant_id = (made.structured_content or {})["id"]
            thread = await client.call_tool("create_thread", {})
            thread_id = (thread.structured_content or {})["id"]
            args = {"thread_id": thread_id, "assistant_id": assistant_id}
            created = await start_task(client, "create_run", args)
            await wait_for_status(client.session, created.task_id, "completed")
            run_id = created.task_id.split("/")[1]
            ref = {"thread_id": thread_id, "run_id": run_id}
            for _ in range(20):  # warm-up
                await get_task(client.session, created.task_id)
                await client.call_tool("get_run", ref)
            for _ in range(calls):
                samples["tasks/get"].append(
                    await timed(lambda: get_task(client.session, created.task_id))
                )
                samples["get_run"].append(await timed(lambda: client.call_tool("get_run", ref)))
            for _ in range(min(calls, 50)):  # a thread has one active run: each must end first
                task_ms = await timed(lambda: _start(client, args))
                samples["task"].append(task_ms)
                samples["no wait"].append(
                    await timed(lambda: _no_wait(client, {**args, "wait": False}))
                )
        server.backend.close()
    return samples


async def _start(client: Client, args: dict[str, Any]) -> None:
    created = await start_task(client, "create_run", args)
    await _until_ended(client, created.task_id.split("/")[1], args["thread_id"])


async def _no_wait(client: Client, args: dict[str, Any]) -> None:
    result = await client.session.call_tool("create_run", args)
    run = (result.structured_content or {})["run"]
    await _until_ended(client, run["id"], args["thread_id"])


async def _until_ended(client: Client, run_id: str, thread_id: str) -> None:
    # Included in both columns alike: the run must end before the next can start.
    while True:
        got = await client.session.call_tool("get_run", {"thread_id": thread_id, "run_id": run_id})
        if (got.structured_content or {})["run"]["status"] in ("failed", "completed"):
            return
        await anyio.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    samples = anyio.run(measure, args.calls)
    rows = [
        f"| {name} | {len(values)} | {percentile(values, 50):.2f} | {percentile(values, 99):.2f} |"
        for name, values in samples.items()
    ]
    text = "\n".join(
        [
            HEADING,
            "",
            *machine_lines(),
            f"- Command: `uv run python bench/bench_tasks.py --calls {args.calls}`",
            "- In-process server, embedded engine on SQLite, the SDK client on 2026-07-28.",
            "  `tasks/get` and `get_run` interleaved on one finished run; `task` (create_run",
            "  answered as a task) and `no wait` (create_run wait=false) each include polling",
            "  get_run until the run (failing at once: no provider) ended.",
            "",
            "| call | n | p50 ms | p99 ms |",
            "| --- | ---: | ---: | ---: |",
            *rows,
        ]
    )
    print(text)
    if args.write:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
