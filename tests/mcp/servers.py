"""Real servers for the MCP tests: `openai-assistant-mcp` (and its `api` command) as
subprocesses of the venv's console script, on free loopback ports; MCP clients to reach them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.subprocess_env import keep_bytecode

COMMAND = str(Path(sys.executable).with_name("openai-assistant-mcp"))
# Settings a developer's shell may carry that would change what the servers under test do.
_OURS = (
    "TRANSPORT",
    "HOST",
    "PORT",
    "OPENAI_",
    "MCP_",
    "ASSISTANTS_API_URL",
    "READ_ONLY",
    "DATABASE_URL",
    "DATA_DIR",
    "LOG_LEVEL",
    "ENGINE_SECRET",
    "RUN_",
    "PROVIDER_",
)


# A JSON-RPC initialize request for clients written by hand (protocol 2025-06-18).
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(data_dir: Path, provider_url: str | None = None, **settings: str) -> dict[str, str]:
    """The environment of a server under test: ours cleared, a private data dir, the provider."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    keep_bytecode(env)  # else every spawned server compiles all it imports again: seconds each
    env["DATA_DIR"] = str(data_dir)
    env["LOG_LEVEL"] = "INFO"
    if provider_url:
        env["OPENAI_BASE_URL"] = provider_url
    env.update(settings)
    return env


@dataclass
class ServerProcess:
    """A server subprocess; its stderr goes to `log_path`."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(
    args: list[str], env: dict[str, str], log_path: Path, command: str = COMMAND
) -> Iterator[ServerProcess]:
    """Starts `openai-assistant-mcp <args>` with `env`; yields once its port accepts connections."""
    port = int(env.get("PORT") or args[args.index("--port") + 1])
    with log_path.open("wb") as log:
        process = subprocess.Popen([command, *args], env=env, stdout=log, stderr=log)
    server = ServerProcess(process, port, log_path)
    try:
        wait_for_port(server)
        yield server
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_port(server: ServerProcess, within: float = 120.0) -> None:
    """A readiness wait, not a timing check (a cold start took ~30 s on the loaded 2-core box)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited ({server.process.returncode}):\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen within {within} s:\n{server.log()}")


# --- clients --------------------------------------------------------------------------------------


def raw_stdio_exchange(env: dict[str, str], *messages: dict[str, Any]) -> list[bytes]:
    """Speaks JSON-RPC to the console script over stdio; returns the raw response lines."""
    wire = b"".join(json.dumps(m).encode() + b"\n" for m in messages)
    answered = sum(1 for m in messages if "id" in m)
    process = subprocess.Popen(
        [COMMAND], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdin and process.stdout
    process.stdin.write(wire)
    process.stdin.flush()
    lines = [process.stdout.readline() for _ in range(answered)]
    process.stdin.close()
    process.wait(60)  # closing stdin ends the server; slow only on a loaded machine
    return lines


def stdio_client(env: dict[str, str], *args: str, errlog: Any = None) -> Client:
    """An MCP client that spawns the console script and speaks over its stdin/stdout."""
    params = StdioServerParameters(command=COMMAND, args=list(args), env=env)
    if errlog is None:
        return Client(params)
    from mcp.client.stdio import stdio_client as spawn

    return Client(spawn(params, errlog=errlog))


def streamable_client(
    url: str, headers: dict[str, str] | None = None, mode: str = "auto"
) -> Client:
    """The SDK's client over streamable HTTP. mode "auto" speaks protocol 2026-07-28 to this
    server (one self-contained POST per request); "legacy" opens a session with initialize, as
    Cursor, Claude and mcpo (mcp<2) do."""
    http = httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(120.0))
    return Client(streamable_http_client(url, http_client=http), mode=mode)


def sse_client_for(url: str, headers: dict[str, str] | None = None) -> Client:
    # The SDK's default gives connecting (and each POST) 5 s: too little on a loaded machine.
    return Client(sse_client(url, headers=headers, timeout=120.0, sse_read_timeout=120.0))
