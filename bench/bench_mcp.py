"""MCP server benchmark: `openai-assistant-mcp` as MCP clients meet it, a subprocess of the
venv's console script.

Measures:
- stdio cold start: spawn to the initialize answer (median of 10);
- the size of the tools/list answer in bytes;
- per-call overhead of get_assistant over stdio and over streamable HTTP, against the same call
  made directly with the openai SDK (p50/p99 of 500 calls each). All three reach the same
  upstream, an `openai-assistant-mcp api` on loopback (the MCP servers in remote mode), so the
  difference is what MCP adds. Over stdio a minimal JSON-RPC client is used, so the figure is
  the server's; the official MCP client's figure is shown as well;
- 50 concurrent streamable HTTP sessions x 20 get_assistant calls in remote mode, against an
  upstream that answers after 50 ms (wall time, median of --rounds); also as 50 clients of
  protocol 2026-07-28 and with the official MCP Python client driving the load;
- resident memory of the server after 1,000 calls (embedded engine over stdio, and the HTTP
  server after the 50 x 20 run).

    uv run python bench/bench_mcp.py [--calls 500] [--rounds 5] [--write]

--write replaces the "MCP server (issue 4)" section of bench/RESULTS.md with this run."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import openai
import uvicorn
from common import cpu_seconds, free_port, percentile, rss_mb, write_section
from lean_mcp import LeanHttpClient
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
COMMAND = str(Path(sys.executable).with_name("openai-assistant-mcp"))
SECTION = "## MCP server (issue 4)"
KEY = "sk-bench-mcp"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}


# Servers keep their compiled bytecode here, as an installed package would in __pycache__
# (this machine sets PYTHONDONTWRITEBYTECODE, which would make every start compile from source).
PYCACHE = Path(tempfile.gettempdir()) / "bench-mcp-pycache"


def clean_env(**settings: str) -> dict[str, str]:
    prefixes = ("TRANSPORT", "HOST", "PORT", "OPENAI_", "MCP_", "ASSISTANTS_", "DATA_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(LOG_LEVEL="WARNING", PYTHONPYCACHEPREFIX=str(PYCACHE), **settings)
    return env


def wait_for_port(port: int, process: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Spawned:
    """A server subprocess, stopped on exit."""

    def __init__(self, args: list[str], env: dict[str, str], port: int | None = None) -> None:
        self.process = subprocess.Popen(
            [COMMAND, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if port is not None:
            wait_for_port(port, self.process)

    def __enter__(self) -> Spawned:
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class RawStdio:
    """A minimal JSON-RPC client on a server's stdin/stdout: one request, one answer line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [COMMAND],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._id = 0

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any] | None = None) -> bytes:
        self._id += 1
        self.send({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params or {}})
        assert self.process.stdout
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout")
            if b'"id"' in line:  # skip notifications
                return line

    def initialize(self) -> bytes:
        self.send(INITIALIZE)
        assert self.process.stdout
        answer = self.process.stdout.readline()
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait(20)


# --- measurements ------------------------------------------------------------------------------


def cold_start(runs: int = 10) -> tuple[float, list[float]]:
    """Spawn to initialize answer: once with no bytecode yet, then `runs` times."""
    shutil.rmtree(PYCACHE, ignore_errors=True)
    times = []
    with tempfile.TemporaryDirectory() as data:
        env = clean_env(DATA_DIR=data)
        for _ in range(runs + 1):
            started = time.perf_counter()
            client = RawStdio(env)
            client.send(INITIALIZE)
            assert client.process.stdout
            client.process.stdout.readline()
            times.append(time.perf_counter() - started)
            client.close()
    return times[0], times[1:]


def tools_list_bytes() -> int:
    with tempfile.TemporaryDirectory() as data:
        client = RawStdio(clean_env(DATA_DIR=data))
        client.initialize()
        size = len(client.request("tools/list"))
        client.close()
    return size


def timed(calls: int, once: Callable[[], Any]) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        once()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def timed_async(calls: int, once: Callable[[], Any]) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        await once()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def direct_sdk(base_url: str, assistant_id: str, calls: int) -> list[float]:
    async with openai.AsyncOpenAI(base_url=base_url, api_key=KEY) as api:
        for _ in range(50):
            await api.beta.assistants.retrieve(assistant_id)
        return await timed_async(calls, lambda: api.beta.assistants.retrieve(assistant_id))


def stdio_raw(env: dict[str, str], assistant_id: str, calls: int) -> tuple[list[float], float]:
    client = RawStdio(env)
    client.initialize()
    params = {"name": "get_assistant", "arguments": {"assistant_id": assistant_id}}
    for _ in range(50):
        answer = client.request("tools/call", params)
        assert b'"isError":true' not in answer, answer
    times = timed(calls, lambda: client.request("tools/call", params))
    rss = rss_mb(client.process.pid)
    client.close()
    return times, rss


async def stdio_sdk_client(env: dict[str, str], assistant_id: str, calls: int) -> list[float]:
    params = StdioServerParameters(command=COMMAND, env=env)
    arguments = {"assistant_id": assistant_id}
    async with Client(params) as client:
        for _ in range(50):
            await client.call_tool("get_assistant", arguments)
        return await timed_async(calls, lambda: client.call_tool("get_assistant", arguments))


async def http_sdk_client(url: str, assistant_id: str, calls: int) -> list[float]:
    arguments = {"assistant_id": assistant_id}
    async with Client(streamable_http_client(url)) as client:
        for _ in range(50):
            await client.call_tool("get_assistant", arguments)
        return await timed_async(calls, lambda: client.call_tool("get_assistant", arguments))


def serve_slow_upstream(port: int, delay: float) -> None:
    """An Assistants API stand-in answering GET /v1/assistants/{id} after `delay` seconds."""

    async def retrieve(request: Request) -> JSONResponse:
        await asyncio.sleep(delay)
        return JSONResponse(
            {
                "id": request.path_params["assistant_id"],
                "object": "assistant",
                "created_at": 1700000000,
                "name": "slow",
                "description": None,
                "model": "gpt-4o",
                "instructions": None,
                "tools": [],
                "metadata": {},
                "top_p": 1.0,
                "temperature": 1.0,
                "response_format": "auto",
            }
        )

    app = Starlette(routes=[Route("/v1/assistants/{assistant_id}", retrieve)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


class SlowUpstream:
    """serve_slow_upstream in a process of its own (it must not share the bench's CPU time)."""

    def __init__(self, port: int, delay: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--upstream", str(port), "--delay", str(delay)]
        )
        wait_for_port(port, self.process)

    def __enter__(self) -> SlowUpstream:
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(10)


async def concurrent_sessions(
    port: int, sessions: int, calls: int, client: str = "2025-06-18"
) -> tuple[float, int]:
    """`sessions` MCP clients at once, each making `calls` get_assistant calls in a row.
    `client`: a protocol for LeanHttpClient, or "official" for the MCP Python SDK's client."""
    errors = 0

    async def session(n: int) -> None:
        nonlocal errors
        url = f"http://127.0.0.1:{port}/mcp"
        official = client == "official"
        mcp: Any = Client(streamable_http_client(url)) if official else LeanHttpClient(port, client)
        async with mcp:
            for i in range(calls):
                result = await mcp.call_tool("get_assistant", {"assistant_id": f"asst_{n}_{i}"})
                failed = result.is_error if official else result.get("isError", False)
                errors += bool(failed)

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for n in range(sessions):
            group.start_soon(session, n)
    return time.perf_counter() - started, errors


# --- the run ---------------------------------------------------------------------------------


def row(name: str, values: list[float], baseline: float | None = None) -> str:
    p50, p99 = statistics.median(values), percentile(values, 99)
    extra = f"{p50 - baseline:+.2f}" if baseline is not None else "—"
    return f"| {name} | {p50:.2f} | {p99:.2f} | {extra} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the 50 x 20 load")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.05, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        serve_slow_upstream(args.upstream, args.delay)
        return
    calls = args.calls
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    first_start, starts = cold_start()
    size = tools_list_bytes()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        api_port = free_port()
        api_env = clean_env(DATA_DIR=str(tmp_path / "api"))
        with Spawned(["api", "--port", str(api_port)], api_env, api_port):
            base_url = f"http://127.0.0.1:{api_port}/v1"
            with openai.OpenAI(base_url=base_url, api_key=KEY) as sync_api:
                assistant_id = sync_api.beta.assistants.create(model="gpt-4o", name="bench").id
            direct = anyio.run(direct_sdk, base_url, assistant_id, calls)
            remote_env = clean_env(
                DATA_DIR=str(tmp_path / "mcp"), ASSISTANTS_API_URL=base_url, OPENAI_API_KEY=KEY
            )
            over_stdio, _ = stdio_raw(remote_env, assistant_id, calls)
            over_stdio_sdk = anyio.run(stdio_sdk_client, remote_env, assistant_id, calls)
            http_port = free_port()
            http_env = {**remote_env, "TRANSPORT": "streamable-http", "PORT": str(http_port)}
            with Spawned([], http_env, http_port):
                over_http = anyio.run(
                    http_sdk_client, f"http://127.0.0.1:{http_port}/mcp", assistant_id, calls
                )

        # Embedded engine over stdio: 1,000 calls, then the server's memory.
        embedded_env = clean_env(DATA_DIR=str(tmp_path / "embedded"))
        client = RawStdio(embedded_env)
        client.initialize()
        made = json.loads(
            client.request("tools/call", {"name": "create_assistant", "arguments": {"model": "m"}})
        )
        embedded_id = made["result"]["structuredContent"]["id"]
        client.close()
        embedded, rss_embedded = stdio_raw(embedded_env, embedded_id, 1000 - 50)

        upstream_port = free_port()
        upstream = SlowUpstream(upstream_port, 0.05)
        http_port = free_port()
        slow_env = clean_env(
            DATA_DIR=str(tmp_path / "slow"),
            ASSISTANTS_API_URL=f"http://127.0.0.1:{upstream_port}/v1",
            OPENAI_API_KEY=KEY,
            TRANSPORT="streamable-http",
            PORT=str(http_port),
        )
        # Each kind of client 5 times, rounds interleaved (this machine's speed drifts).
        kinds = ["2025-06-18", "2026-07-28", "official"]
        load_runs: dict[str, list[tuple[float, int, float]]] = {k: [] for k in kinds}
        with Spawned([], slow_env, http_port) as slow_server:
            pid = slow_server.process.pid
            rss_before = rss_mb(pid)
            anyio.run(concurrent_sessions, http_port, 10, 5)  # warm-up
            for _ in range(args.rounds):
                for kind in kinds:
                    cpu_before = cpu_seconds(pid)
                    wall, errors = anyio.run(concurrent_sessions, http_port, 50, 20, kind)
                    load_runs[kind].append((wall, errors, cpu_seconds(pid) - cpu_before))
            rss_after = rss_mb(pid)
        upstream.__exit__()

    baseline = statistics.median(direct)
    overhead_stdio = statistics.median(over_stdio) - baseline
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    say(SECTION)
    say()
    say(f"- Date: {datetime.date.today().isoformat()}")
    say(
        f"- Machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; "
        f"load average at the end {load}"
    )
    say(f"- Python {platform.python_version()}, Linux {platform.release()}")
    say("- Command: `uv run python bench/bench_mcp.py --write`")
    say()
    say("| measurement | result | target |")
    say("| --- | ---: | --- |")
    say(
        f"| stdio cold start to the initialize answer, median of 10 | "
        f"{statistics.median(starts):.3f} s (min {min(starts):.3f}) | ≤ 0.8 s |"
    )
    say(f"| the very first start, compiling bytecode | {first_start:.3f} s | |")
    say(f"| tools/list answer | {size:,} bytes | ≤ 40,000 |")
    say(f"| get_assistant overhead over stdio, p50 | {overhead_stdio:.2f} ms | ≤ 2 ms |")
    labels = {
        "2025-06-18": "50 streamable HTTP sessions x 20 calls, upstream answering in 50 ms",
        "2026-07-28": "the same as 50 clients of protocol 2026-07-28 (no sessions)",
        "official": "the same driven by the official MCP Python client (2026-07-28)",
    }
    for kind, label in labels.items():
        runs = load_runs[kind]
        walls = sorted(wall for wall, _, _ in runs)
        cpu = statistics.median(cpu for _, _, cpu in runs)
        errors = sum(e for _, e, _ in runs)
        target = "≤ 2 s" if kind == "2025-06-18" else ""
        say(
            f"| {label}, median of {len(runs)} | {statistics.median(walls):.2f} s "
            f"(min {walls[0]:.2f}), {errors} errors, server CPU {cpu:.2f} s | {target} |"
        )
    say(f"| RSS after 1,000 calls, embedded engine over stdio | {rss_embedded:.0f} MB | |")
    say(
        f"| RSS of the HTTP server before / after the 1,000 calls above | "
        f"{rss_before:.0f} / {rss_after:.0f} MB | |"
    )
    say()
    say(f"get_assistant, {calls} calls each after 50 warm-up calls (ms):")
    say()
    say("| path | p50 | p99 | p50 vs direct |")
    say("| --- | ---: | ---: | ---: |")
    say(row("openai SDK directly -> `api` (remote upstream)", direct))
    say(row("MCP over stdio, raw JSON-RPC client -> same upstream", over_stdio, baseline))
    say(row("MCP over stdio, official MCP client -> same upstream", over_stdio_sdk, baseline))
    say(row("MCP over streamable HTTP, official MCP client -> same upstream", over_http, baseline))
    say(row("MCP over stdio, raw client, embedded engine (no upstream hop)", embedded))
    say()

    if args.write:
        write_section(SECTION, "\n".join(lines).rstrip())


if __name__ == "__main__":
    main()
