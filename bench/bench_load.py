"""Load benchmark (issue 5): many concurrent MCP sessions over streamable HTTP against one
`openai-assistant-mcp` server on the embedded engine, for a fixed time.

The server runs as a subprocess of the venv's console script, in passthrough mode behind
MCP_AUTH_TOKEN (the hardened multi-user setup), with the scripted Chat Completions provider
(its own process, answering at once) as the model. Each session has its own API key out of
`--keys`, creates an assistant and a thread, then loops over a mix of calls until the time is
up: get_assistant, list_assistants, create_message, list_messages, and every tenth round a
create_run that waits for the model's answer.

Reports calls/s, latency p50/p99 (as the MCP client sees it), errors (tool errors and
exceptions), and the server's resident memory before the timed phase (sessions open, warm),
after it, and after the sessions closed.

    uv run python bench/bench_load.py [--sessions 200] [--seconds 60] [--keys 20]
        [--calls-in-flight N] [--postgres] [--write]

--write replaces the "Hardening (issue 5)" section's load table in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
from common import cpu_seconds, free_port, rss_mb, start_provider, stop_provider
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support.scripted_provider

COMMAND = str(Path(sys.executable).with_name("openai-assistant-mcp"))
RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "### Load: concurrent MCP sessions over streamable HTTP"  # + " (PostgreSQL)"
TOKEN = "bench-door-" + secrets.token_hex(8)
RSS_GROWTH_BOUND_MB = 64.0


def start_server(
    data_dir: Path,
    provider_url: str,
    port: int,
    database_url: str | None,
    calls_in_flight: int | None = None,
) -> subprocess.Popen[bytes]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "MCP_")) and k != "DATABASE_URL"
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    if calls_in_flight is not None:
        env["MAX_CALLS_IN_FLIGHT"] = str(calls_in_flight)
    env.update(
        TRANSPORT="streamable-http",
        HOST="127.0.0.1",
        PORT=str(port),
        DATA_DIR=str(data_dir),
        OPENAI_BASE_URL=provider_url,
        MCP_CREDENTIALS_PASSTHROUGH="true",
        MCP_AUTH_TOKEN=TOKEN,
        LOG_LEVEL="WARNING",
    )
    log = (data_dir.parent / "server.log").open("wb")
    server = subprocess.Popen([COMMAND], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError("the server exited") from None
            time.sleep(0.05)
    raise RuntimeError("the server did not listen")


class Session:
    """One MCP session with its own key; records every call's latency and failures."""

    def __init__(self, url: str, key: str, n: int, pause: float = 0.0) -> None:
        self.url = url
        self.pause = pause
        self.key = key
        self.n = n
        self.latencies: list[float] = []
        self.by_tool: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.assistant = ""
        self.thread = ""

    def client(self) -> Client:
        headers = {"Authorization": f"Bearer {TOKEN}", "X-OpenAI-API-Key": self.key}
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(120.0))
        return Client(streamable_http_client(self.url, http_client=http))

    async def call(self, client: Client, tool: str, arguments: dict[str, Any], timed: bool) -> Any:
        if timed and self.pause:
            await asyncio.sleep(self.pause)  # think time: a load below saturation
        started = time.perf_counter()
        try:
            result = await client.call_tool(tool, arguments)
        except Exception as exc:
            self.errors.append(f"{tool}: {type(exc).__name__}: {exc}"[:200])
            return None
        if timed:
            took = time.perf_counter() - started
            self.latencies.append(took)
            self.by_tool.setdefault(tool, []).append(took)
        if result.is_error:
            self.errors.append(f"{tool}: {result.content[0].text}"[:200])
            return None
        return result.structured_content

    async def run(self, ready: Countdown, go: asyncio.Event, stop: asyncio.Event) -> None:
        try:
            async with self.client() as client:
                await self._rounds(client, ready, go, stop)
        except Exception as exc:  # the session itself failed
            self.errors.append(f"session: {type(exc).__name__}: {exc}"[:200])
        finally:
            ready.done(self)

    async def _rounds(
        self, client: Client, ready: Countdown, go: asyncio.Event, stop: asyncio.Event
    ) -> None:
        name = f"s{self.n}"
        made = await self.call(client, "create_assistant", {"model": "bench", "name": name}, False)
        thread = await self.call(client, "create_thread", {}, False)
        self.assistant = (made or {}).get("id", "asst_missing")
        self.thread = (thread or {}).get("id", "thread_missing")
        ready.done(self)
        await go.wait()
        round_ = 0
        while not stop.is_set():
            round_ += 1
            await self.call(client, "get_assistant", {"assistant_id": self.assistant}, True)
            await self.call(client, "list_assistants", {"limit": 5}, True)
            message = {"thread_id": self.thread, "content": f"message {round_} of {name}"}
            await self.call(client, "create_message", message, True)
            await self.call(client, "list_messages", {"thread_id": self.thread, "limit": 5}, True)
            if round_ % 10 == 0:
                run = {"thread_id": self.thread, "assistant_id": self.assistant, "timeout": 60}
                await self.call(client, "create_run", run, True)


class Countdown:
    """Set once every session has reported (ready, or failed)."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.reported: set[int] = set()
        self.event = asyncio.Event()

    def done(self, session: Session) -> None:
        if session.n not in self.reported:
            self.reported.add(session.n)
            self.left -= 1
            if self.left == 0:
                self.event.set()


async def load(
    url: str, sessions: int, keys: int, seconds: float, pid: int, pause: float = 0.0
) -> dict[str, Any]:
    key_list = [f"sk-load-{i}-{secrets.token_hex(6)}" for i in range(keys)]
    all_sessions = [Session(url, key_list[n % keys], n, pause) for n in range(sessions)]
    ready = Countdown(sessions)
    go, stop = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(s.run(ready, go, stop)) for s in all_sessions]
    opened = time.monotonic()
    await ready.event.wait()  # every session open, its assistant and thread made
    open_s = time.monotonic() - opened
    await asyncio.sleep(1)
    rss_before = rss_mb(pid)
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
    started = time.monotonic()
    go.set()
    await asyncio.sleep(seconds)
    stop.set()
    elapsed = time.monotonic() - started
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    rss_after = rss_mb(pid)
    await asyncio.gather(*tasks)  # each finishes its round, then closes
    await asyncio.sleep(2)
    rss_closed = rss_mb(pid)
    latencies = sorted(x for s in all_sessions for x in s.latencies)
    by_tool: dict[str, list[float]] = {}
    for session in all_sessions:
        for tool, values in session.by_tool.items():
            by_tool.setdefault(tool, []).extend(values)
    errors = [e for s in all_sessions for e in s.errors]
    return {
        "sessions": sessions,
        "keys": keys,
        "open_s": open_s,
        "seconds": elapsed,
        "calls": len(latencies),
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan"),
        "errors": errors,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "rss_closed": rss_closed,
        "server_cpu": server_cpu / elapsed,
        "client_cpu": client_cpu / elapsed,
        "by_tool": {tool: _percentiles(values) for tool, values in sorted(by_tool.items())},
    }


def _percentiles(values: list[float]) -> tuple[int, float, float]:
    ordered = sorted(values)
    return len(ordered), ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000


def report(figures: dict[str, Any], command: str, heading: str) -> str:
    growth = figures["rss_after"] - figures["rss_before"]
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        heading,
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, Linux {platform.release()}; "
        f"load average at the end {load_avg}",
        f"- {figures['sessions']} MCP sessions (official MCP client, one process) with "
        f"{figures['keys']} API keys, passthrough behind MCP_AUTH_TOKEN, embedded engine on "
        f"{figures['store']}, scripted provider answering at once; the client and server share "
        "the 2 cores",
        f"- Command: `{command}`",
        "",
        "| measure | value | target |",
        "| --- | ---: | --- |",
        f"| sessions opened (each: initialize, create_assistant, create_thread) | "
        f"{figures['open_s']:.1f} s | |",
        f"| timed phase | {figures['seconds']:.1f} s | 60 s |",
        f"| tool calls | {figures['calls']} | |",
        f"| calls/s | {figures['calls_per_s']:.0f} | |",
        f"| latency p50 | {figures['p50_ms']:.0f} ms | |",
        f"| latency p99 | {figures['p99_ms']:.0f} ms | |",
        f"| errors | {len(figures['errors'])} | 0 |",
        f"| server RSS before the timed phase (sessions open, warm) | "
        f"{figures['rss_before']:.0f} MB | |",
        f"| server RSS after it | {figures['rss_after']:.0f} MB | growth ≤ "
        f"{RSS_GROWTH_BOUND_MB:.0f} MB: {'met' if growth <= RSS_GROWTH_BOUND_MB else 'MISSED'} "
        f"({growth:+.0f} MB) |",
        f"| server RSS 2 s after the sessions closed | {figures['rss_closed']:.0f} MB | |",
        f"| CPU during the timed phase: server / bench client | "
        f"{figures['server_cpu']:.0%} / {figures['client_cpu']:.0%} of one core | |",
        "",
        "| tool | calls | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {tool} | {n} | {p50:.0f} | {p99:.0f} |"
            for tool, (n, p50, p99) in figures["by_tool"].items()
        ),
    ]
    if figures["errors"]:
        lines += ["", "First errors:", *(f"- `{e}`" for e in figures["errors"][:5])]
    return "\n".join(lines) + "\n"


def write(section: str, heading: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if "## Hardening (issue 5)" not in text:
        text = text.rstrip() + "\n\n## Hardening (issue 5)\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^##|\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        head, _, tail = text.partition("## Hardening (issue 5)\n")
        rest = re.split(r"(?=^## )", tail, maxsplit=1, flags=re.M)
        text = head + "## Hardening (issue 5)\n" + rest[0].rstrip() + "\n\n" + section
        if len(rest) > 1:
            text += "\n" + rest[1]
    RESULTS.write_text(text.rstrip() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument(
        "--pause", type=float, default=0.0, help="seconds each session waits between calls"
    )
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL store")
    parser.add_argument(
        "--calls-in-flight",
        type=int,
        help="the server's MAX_CALLS_IN_FLIGHT (0: no line, as before issue 11; default: its own)",
    )
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    provider, provider_url = start_provider()
    postgres = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            database_url = None
            if args.postgres:
                from tests.support.postgres import PostgresServer

                postgres = PostgresServer.start()
                database_url = asyncio.run(postgres.new_database_url("bench_load"))
            port = free_port()
            server = start_server(
                Path(tmp) / "data", provider_url, port, database_url, args.calls_in_flight
            )
            try:
                url = f"http://127.0.0.1:{port}/mcp"
                figures = asyncio.run(
                    load(url, args.sessions, args.keys, args.seconds, server.pid, args.pause)
                )
            finally:
                server.terminate()
                server.wait(30)
    finally:
        stop_provider(provider)
        if postgres is not None:
            postgres.stop()
    figures["store"] = "PostgreSQL (the tests' server, fsync off)" if args.postgres else "SQLite"
    command = "uv run python bench/bench_load.py " + " ".join(sys.argv[1:])
    heading = HEADING + (" (PostgreSQL)" if args.postgres else "")
    section = report(figures, command.strip(), heading)
    print(section)
    if args.write:
        write(section, heading)


if __name__ == "__main__":
    main()
