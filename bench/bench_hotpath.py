"""The MCP hot path (issue 25): start-up, per-call cost and memory, as ratios to the openai
SDK's own GET measured in the same run, for one or more builds of the server side by side.

The harness: spawn the server over stdio with the MCP SDK's client, time the handshake
(spawn to the initialize answer) and the first tool call, then 200 sequential get_assistant
calls (remote mode against an `openai-assistant-mcp api` upstream, and the embedded engine);
then 20 sessions x 20 calls over streamable HTTP and SSE against an upstream answering after
50 ms, driven by lean clients (lean_mcp.py: the SDK client's requests, written by hand, so the
load generator's CPU stays small beside the server's) of both protocols in use. Each figure
that can be is also given as a ratio to the direct SDK GET of this run, and per-call CPU (the
server's, from /proc) next to the SDK's own CPU per GET, since CPU time moves much less with
the machine's load than wall time.

    uv run python bench/bench_hotpath.py [--server PATH ...] [--calls 200] [--long]

--server names an `openai-assistant-mcp` executable (repeatable; default this venv's), e.g. a
baseline worktree's `.venv/bin/openai-assistant-mcp`; builds are measured interleaved.
--long runs 10,000 embedded calls and prints RSS along the way (flatness). --sdk-load drives
the 20x20 with the MCP SDK's own clients too; --no-stdio / --no-http leave a part out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
import openai
from bench_mcp import KEY, SlowUpstream, Spawned, clean_env
from common import cpu_seconds, free_port, rss_mb
from lean_mcp import lean_client
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

OWN = str(Path(sys.executable).with_name("openai-assistant-mcp"))


def newest_child() -> int:
    """The pid of this process's most recently started child (the stdio server just spawned)."""
    found: list[tuple[int, int]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.append((int(fields[19]), int(entry.name)))  # (start time, pid)
    if not found:
        raise RuntimeError("the server process was not found")
    return max(found)[1]


async def direct_get(base_url: str, assistant_id: str, calls: int) -> dict[str, float]:
    """The SDK's own GET: wall ms per call (median) and this process's CPU ms per call."""
    async with openai.AsyncOpenAI(base_url=base_url, api_key=KEY) as api:
        for _ in range(50):
            await api.beta.assistants.retrieve(assistant_id)
        times = []
        cpu = time.process_time()
        for _ in range(calls):
            started = time.perf_counter()
            await api.beta.assistants.retrieve(assistant_id)
            times.append((time.perf_counter() - started) * 1000)
        cpu = time.process_time() - cpu
    return {"p50": statistics.median(times), "cpu": cpu / calls * 1000}


async def stdio_run(
    command: str, env: dict[str, str], calls: int, assistant_id: str | None, long: bool = False
) -> dict[str, Any]:
    """Handshake, first call, then `calls` get_assistant calls; RSS after 400 calls."""
    out: dict[str, Any] = {}
    started = time.perf_counter()
    async with Client(StdioServerParameters(command=command, env=env)) as client:
        out["initialize"] = (time.perf_counter() - started) * 1000
        pid = newest_child()
        started = time.perf_counter()
        if assistant_id is None:  # embedded: the first call makes the assistant
            made = await client.call_tool("create_assistant", {"model": "m", "name": "bench"})
            assert not made.is_error, made
            assistant_id = str((made.structured_content or {})["id"])
        else:
            first = await client.call_tool("get_assistant", {"assistant_id": assistant_id})
            assert not first.is_error, first
        out["first_call"] = (time.perf_counter() - started) * 1000
        arguments = {"assistant_id": assistant_id}
        for _ in range(20):
            await client.call_tool("get_assistant", arguments)
        times = []
        cpu, own = cpu_seconds(pid), time.process_time()
        started = time.perf_counter()
        for _ in range(calls):
            t0 = time.perf_counter()
            result = await client.call_tool("get_assistant", arguments)
            times.append((time.perf_counter() - t0) * 1000)
            assert not result.is_error, result
        out["calls_per_s"] = calls / (time.perf_counter() - started)
        out["cpu"] = (cpu_seconds(pid) - cpu) / calls * 1000
        out["client_cpu"] = (time.process_time() - own) / calls * 1000
        out["p50"] = statistics.median(times)
        done = 21 + calls
        marks = [400, 2000, 5000, 10000] if long else [400]
        out["rss"] = {}
        for mark in marks:
            while done < mark:
                await client.call_tool("get_assistant", arguments)
                done += 1
            out["rss"][mark] = rss_mb(pid)
    return out


async def handshake_only(command: str, env: dict[str, str]) -> float:
    """Spawn to the initialize answer, ms (nothing else asked)."""
    started = time.perf_counter()
    async with Client(StdioServerParameters(command=command, env=env)):
        return (time.perf_counter() - started) * 1000


LOADS = ("2025-06-18", "2026-07-28")  # lean clients (lean_mcp.py); "sdk": the MCP SDK's clients


async def sessions(
    port: int, transport: str, client: str = "2025-06-18", count: int = 20, calls: int = 20
) -> float:
    """`count` clients at once, each making `calls` get_assistant calls in a row: lean clients of
    protocol `client` (lean_mcp.py), or "sdk" for the MCP SDK's own."""

    async def one(n: int) -> None:
        if client == "sdk":
            path = "/sse" if transport == "sse" else "/mcp"
            url = f"http://127.0.0.1:{port}{path}"
            connect = sse_client(url) if transport == "sse" else streamable_http_client(url)
            async with Client(connect) as sdk:
                for i in range(calls):
                    result = await sdk.call_tool("get_assistant", {"assistant_id": f"asst_{n}_{i}"})
                    assert not result.is_error, result
            return
        async with lean_client(transport, port, client) as lean:
            for i in range(calls):
                answer = await lean.call_tool("get_assistant", {"assistant_id": f"asst_{n}_{i}"})
                assert not answer.get("isError"), answer

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for n in range(count):
            group.start_soon(one, n)
    return time.perf_counter() - started


def http_load(
    command: str, upstream_url: str, transport: str, rounds: int, loads: tuple[str, ...]
) -> dict[str, tuple[list[float], float, float]]:
    """Per load generator (`loads`, each a `sessions` client): the wall seconds of each 20 x 20
    round, and the CPU seconds per round (medians) of the server and of this process (the load
    generator: 20 clients on one event loop). Rounds of the loads interleaved."""
    port = free_port()
    env = clean_env(
        ASSISTANTS_API_URL=upstream_url,
        OPENAI_API_KEY=KEY,
        TRANSPORT=transport,
        PORT=str(port),
        DATA_DIR=tempfile.mkdtemp(prefix="bench-hotpath-"),
    )
    with Spawned_at(command, env, port) as server:
        for load in loads:
            anyio.run(sessions, port, transport, load, 5, 5)  # warm-up
        got: dict[str, tuple[list[float], list[float], list[float]]] = {
            load: ([], [], []) for load in loads
        }
        for _ in range(rounds):
            for load in loads:
                walls, cpus, own = got[load]
                cpu, mine = cpu_seconds(server.process.pid), time.process_time()
                walls.append(anyio.run(sessions, port, transport, load))
                cpus.append(cpu_seconds(server.process.pid) - cpu)
                own.append(time.process_time() - mine)
        return {
            load: (walls, statistics.median(cpus), statistics.median(own))
            for load, (walls, cpus, own) in got.items()
        }


class Spawned_at(Spawned):
    """bench_mcp's Spawned, for a given executable."""

    def __init__(
        self, command: str, env: dict[str, str], port: int, args: list[str] | None = None
    ) -> None:
        import bench_mcp

        saved, bench_mcp.COMMAND = bench_mcp.COMMAND, command
        try:
            super().__init__(args or [], env, port)
        finally:
            bench_mcp.COMMAND = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", action="append", help="an openai-assistant-mcp executable")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="stdio runs and HTTP rounds")
    parser.add_argument("--long", action="store_true", help="10,000 embedded calls, RSS along")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-stdio", action="store_true")
    parser.add_argument(
        "--sdk-load",
        action="store_true",
        help="drive the 20x20 with the MCP SDK's clients too (they use more CPU than the server)",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    servers = args.server or [OWN]
    results: dict[str, dict[str, list[Any]]] = {s: {} for s in servers}

    def note(server: str, key: str, value: Any) -> None:
        results[server].setdefault(key, []).append(value)

    with tempfile.TemporaryDirectory() as tmp:
        direct: list[dict[str, float]] = []
        if not args.no_stdio:
            api_port = free_port()
            api_env = clean_env(DATA_DIR=f"{tmp}/api")
            with Spawned_at(OWN, api_env, api_port, ["api", "--port", str(api_port)]):
                base_url = f"http://127.0.0.1:{api_port}/v1"
                with openai.OpenAI(base_url=base_url, api_key=KEY) as sync_api:
                    assistant_id = sync_api.beta.assistants.create(model="gpt-4o", name="bench").id
                direct.append(anyio.run(direct_get, base_url, assistant_id, args.calls))
                # A user's data dir has met its client before (mcp/handshake.py keeps the answer
                # there); the first start of a new one is timed apart, once per build.
                for server in servers:
                    first_env = clean_env(DATA_DIR=f"{tmp}/embedded-{servers.index(server)}")
                    note(server, "first_start", anyio.run(handshake_only, server, first_env))
                for r in range(args.rounds):
                    for server in servers:
                        # A data dir per build, kept across runs as a user's is (handshake.py).
                        remote_env = clean_env(
                            DATA_DIR=f"{tmp}/remote-{servers.index(server)}",
                            ASSISTANTS_API_URL=base_url,
                            OPENAI_API_KEY=KEY,
                        )
                        note(
                            server,
                            "remote",
                            anyio.run(stdio_run, server, remote_env, args.calls, assistant_id),
                        )
                        embedded_env = clean_env(DATA_DIR=f"{tmp}/embedded-{servers.index(server)}")
                        note(
                            server,
                            "embedded",
                            anyio.run(
                                stdio_run,
                                server,
                                embedded_env,
                                args.calls,
                                None,
                                args.long and r == 0,
                            ),
                        )
                    direct.append(anyio.run(direct_get, base_url, assistant_id, args.calls))
        if not args.no_http:
            upstream_port = free_port()
            with SlowUpstream(upstream_port, 0.05):
                upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
                for server in servers:
                    for transport in ("streamable-http", "sse"):
                        loads = (*LOADS, "sdk") if args.sdk_load else LOADS
                        note(
                            server,
                            transport,
                            http_load(server, upstream_url, transport, args.rounds, loads),
                        )

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\nload average {load}; {args.rounds} runs each, medians")
    if direct:
        sdk_p50 = statistics.median(d["p50"] for d in direct)
        sdk_cpu = statistics.median(d["cpu"] for d in direct)
        print(f"SDK direct GET: {sdk_p50:.3f} ms wall, {sdk_cpu:.3f} ms CPU per call")
    for server in servers:
        got = results[server]
        print(f"\n{server}")
        if direct:
            print(
                f"  stdio embedded, first start of a new data dir: initialize "
                f"{got['first_start'][0]:.0f} ms"
            )
        for mode in ("remote", "embedded") if direct else ():
            runs = got[mode]

            def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
                return statistics.median(r[key] for r in runs)

            rss = {
                m: statistics.median(r["rss"][m] for r in runs if m in r["rss"])
                for m in runs[0]["rss"]
            }
            print(
                f"  stdio {mode:8}: initialize {med('initialize'):6.0f} ms, first call "
                f"{med('first_call'):5.0f} ms, {med('calls_per_s'):6.0f} calls/s, p50 "
                f"{med('p50'):.3f} ms (over SDK GET {med('p50') - sdk_p50:+.3f} ms, x"
                f"{med('p50') / sdk_p50:.2f}), server CPU {med('cpu'):.3f} ms/call (x"
                f"{med('cpu') / sdk_cpu:.2f} the SDK GET's; the SDK client "
                f"{med('client_cpu'):.3f}), RSS "
                + ", ".join(f"{v:.0f} MiB@{m}" for m, v in rss.items())
            )
        for transport in ("streamable-http", "sse"):
            for load, (walls, cpu, own) in got.get(transport, [{}])[0].items():
                print(
                    f"  20x20 {transport:15} {load:10}: {statistics.median(walls):.2f} s "
                    f"(min {min(walls):.2f}; ideal 1.0), CPU a round: server {cpu:.2f} s, "
                    f"the load generator {own:.2f} s"
                )


if __name__ == "__main__":
    main()
