"""Fixtures for the hardening tests.

Most tests need a server subprocess with particular settings. Starting one costs a second or
two of CPU, so every long-lived server the suite uses is declared here (`SERVERS`) and the
first test that needs one starts them all at once, in parallel, on pre-chosen free ports."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.hardening.fault_proxy import FaultProxy
from tests.mcp.fixtures import model_provider, model_provider_server, start_server
from tests.mcp.servers import COMMAND, ServerProcess, free_port, server_env, wait_for_port
from tests.runner.engine_process import engines
from tests.support.postgres import PostgresServer
from tests.support.scripted_provider import ScriptedProvider

__all__ = ["engines", "model_provider", "model_provider_server", "start_server"]

MCP_TOKEN = "mcp-door-" + secrets.token_hex(12)
API_TOKEN = "api-door-" + secrets.token_hex(12)
# Short provider time-outs and few retries, so fault tests take seconds.
QUICK_PROVIDER = {"PROVIDER_TIMEOUT": "2", "PROVIDER_MAX_RETRIES": "1", "RUN_POLL_INTERVAL": "0.2"}


@dataclass
class Spec:
    """A server to start: MCP (settings by env) or, with `api=True`, the REST API."""

    env: dict[str, str] = field(default_factory=dict)
    api: bool = False


SERVERS: dict[str, Spec] = {
    # Default access settings; single user; a quick provider for the fault tests.
    "open-http": Spec({"TRANSPORT": "streamable-http", **QUICK_PROVIDER}),
    "open-api": Spec(api=True),
    # Passthrough behind MCP_AUTH_TOKEN, with an extra allowed host and origin.
    "token-http": Spec(
        {
            "TRANSPORT": "streamable-http",
            "MCP_CREDENTIALS_PASSTHROUGH": "true",
            "MCP_AUTH_TOKEN": MCP_TOKEN,
            "MCP_ALLOWED_HOSTS": "127.0.0.1:*,mcp.example.test:*",
            "MCP_ALLOWED_ORIGINS": "https://app.example.test",
        }
    ),
    "token-sse": Spec(
        {"TRANSPORT": "sse", "MCP_CREDENTIALS_PASSTHROUGH": "true", "MCP_AUTH_TOKEN": MCP_TOKEN}
    ),
    "token-api": Spec({"API_AUTH_TOKEN": API_TOKEN}, api=True),
    # Tight limits: one call at a time per key and one waiting, 5 a minute, 64 KiB bodies.
    "limits-http": Spec(
        {
            "TRANSPORT": "streamable-http",
            "MCP_CREDENTIALS_PASSTHROUGH": "true",
            "MAX_CONCURRENT_PER_KEY": "1",
            "MAX_QUEUED_PER_KEY": "1",
            "RATE_LIMIT_PER_MINUTE": "5",
            "MAX_REQUEST_BODY_BYTES": "65536",
            "HTTP_READ_TIMEOUT": "1.5",
        }
    ),
    "limits-api": Spec(
        {
            "MAX_CONCURRENT_PER_KEY": "1",
            "MAX_QUEUED_PER_KEY": "0",
            "RATE_LIMIT_PER_MINUTE": "5",
            "MAX_REQUEST_BODY_BYTES": "65536",
            "HTTP_READ_TIMEOUT": "1.5",
            "HTTP_MAX_CONNECTIONS": "20",
        },
        api=True,
    ),
    # The model provider is a closed port.
    "no-provider-http": Spec({"TRANSPORT": "streamable-http", "PROVIDER_MAX_RETRIES": "0"}),
    # Remote mode through the fault proxy (in front of open-api), and towards a closed port.
    "remote-faults-http": Spec(
        {"TRANSPORT": "streamable-http", "ASSISTANTS_API_TIMEOUT": "1.5", **QUICK_PROVIDER}
    ),
    "remote-refused-http": Spec({"TRANSPORT": "streamable-http"}),
    # The secrets test's servers: most talkative logs; the API on PostgreSQL when there is one.
    "secrets-http": Spec(
        {
            "TRANSPORT": "streamable-http",
            "MCP_CREDENTIALS_PASSTHROUGH": "true",
            "LOG_LEVEL": "DEBUG",
        }
    ),
    "secrets-api": Spec({"LOG_LEVEL": "DEBUG"}, api=True),
}


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    return free_port()


class ServerPool:
    """Starts every server of SERVERS at once on first use; `get(name)` returns one."""

    def __init__(
        self,
        root: Path,
        provider: ScriptedProvider,
        stack: ExitStack,
        postgres_url: str | None,
    ) -> None:
        self.root = root
        self.provider = provider
        self.stack = stack
        self.postgres_url = postgres_url
        self.servers: dict[str, ServerProcess] = {}
        self.ports = {name: free_port() for name in SERVERS}
        self.fault_proxy = FaultProxy(f"http://127.0.0.1:{self.ports['open-api']}")

    def get(self, name: str) -> ServerProcess:
        if not self.servers:
            self._start_all()
        return self.servers[name]

    def _env(self, name: str) -> dict[str, str]:
        spec = SERVERS[name]
        provider_url = self.provider.base_url
        if name == "no-provider-http":
            provider_url = f"http://127.0.0.1:{closed_port()}/v1"
        env = server_env(self.root / name / "data", provider_url, **spec.env)
        if name == "remote-faults-http":
            env["ASSISTANTS_API_URL"] = self.fault_proxy.base_url
        if name == "remote-refused-http":
            env["ASSISTANTS_API_URL"] = f"http://127.0.0.1:{closed_port()}/v1"
        if name == "secrets-api" and self.postgres_url:
            env["DATABASE_URL"] = self.postgres_url
        if not spec.api:
            env.update(PORT=str(self.ports[name]), HOST="127.0.0.1")
        return env

    def _start_all(self) -> None:
        self.stack.enter_context(self.fault_proxy)
        for name, spec in SERVERS.items():
            (self.root / name).mkdir(parents=True)
            args = ["api", "--port", str(self.ports[name])] if spec.api else []
            log_path = self.root / name / "server.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [COMMAND, *args], env=self._env(name), stdout=log, stderr=log
                )
            self.servers[name] = ServerProcess(process, self.ports[name], log_path)
        # Killed at the end: graceful stops are test_shutdown's business, and each costs about a
        # second of CPU (12 servers on 2 shared cores).
        self.stack.callback(kill_all, list(self.servers.values()))
        for server in self.servers.values():
            wait_for_port(server, within=180)  # twelve cold starts share the cores


def kill_all(servers: list[ServerProcess]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
    for server in servers:
        server.process.wait()


def stop_all(servers: list[ServerProcess]) -> None:
    """SIGTERM to all at once, then wait for each (SIGKILL after 15 s)."""
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="session")
async def pool(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    model_provider_server: ScriptedProvider,
) -> AsyncIterator[ServerPool]:
    try:
        postgres: PostgresServer | None = request.getfixturevalue("postgres_server")
    except pytest.skip.Exception:
        postgres = None  # PostgreSQL is optional here; the tests that need it ask for it
    postgres_url = await postgres.new_database_url("secrets") if postgres else None
    with ExitStack() as stack:
        root = tmp_path_factory.mktemp("hardening")
        yield ServerPool(root, model_provider_server, stack, postgres_url)
