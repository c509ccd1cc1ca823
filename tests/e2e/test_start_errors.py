"""Start-up mistakes said in one line (issue 24): a DATABASE_URL that names an unknown dialect,
points at a host that never answers or at a port nothing listens on, on every server and
command; an OPENAI_BASE_URL that is no URL; a provider answering 404 (a base URL without /v1).
Real processes; each asserts the exit status and the single line, never the elapsed time."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.mcp.servers import COMMAND, server_env, stdio_client
from tests.mcp.workflow import call
from tests.support.scripted_provider import Echo, ScriptedProvider

# A provider that needs no key: start-up has no "Runs will fail" warning to print.
NO_KEY_PROVIDER = "http://127.0.0.1:9/v1"
COMMANDS = {
    "mcp-http": ["--transport", "streamable-http", "--port", "0"],
    "mcp-sse": ["--transport", "sse", "--port", "0"],
    "api": ["api", "--port", "0"],
    "tenants": ["tenants", "list"],
}


def _start(args: list[str], data_dir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = server_env(data_dir, NO_KEY_PROVIDER, **settings)
    return subprocess.run(
        [COMMAND, *args], env=env, capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word (a firewall that drops, a
    half-dead host): the client must give up on its own."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_a_database_that_never_answers_is_one_line_and_exit_1(
    command: str, silent_port: int, tmp_path: Path
) -> None:
    url = f"postgresql+asyncpg://assistants:hunter2@127.0.0.1:{silent_port}/assistants"
    done = _start(COMMANDS[command], tmp_path / "data", DATABASE_URL=url)
    assert done.returncode == 1, done.stderr
    line = _one_line(done)
    assert "DATABASE_URL" in line and f"PostgreSQL at 127.0.0.1:{silent_port}" in line, line
    assert "no answer within" in line and "postgresql+asyncpg://USER:PASSWORD@HOST" in line
    assert "hunter2" not in done.stderr


@pytest.mark.parametrize("command", ["mcp-stdio", *COMMANDS], ids=["mcp-stdio", *COMMANDS])
def test_an_unknown_dialect_is_one_line_and_exit_1(command: str, tmp_path: Path) -> None:
    args = COMMANDS.get(command, [])
    done = _start(args, tmp_path / "data", DATABASE_URL="mysql://root:hunter2@db/assistants")
    assert done.returncode == 1, done.stderr
    line = _one_line(done)
    assert line.startswith("DATABASE_URL names the dialect 'mysql'"), line
    assert "postgresql+asyncpg://" in line and "sqlite+aiosqlite://" in line
    assert "hunter2" not in done.stderr


def test_the_driverless_postgresql_url_names_the_asyncpg_form(tmp_path: Path) -> None:
    done = _start(["api"], tmp_path / "data", DATABASE_URL="postgresql://u:p@db:5432/a")
    assert done.returncode == 1
    assert "starts postgresql+asyncpg://" in _one_line(done)


def test_a_refused_connection_shows_its_traceback_only_at_debug(
    closed_port: int, tmp_path: Path
) -> None:
    url = f"postgresql+asyncpg://u:p@127.0.0.1:{closed_port}/a"
    quiet = _start(["api", "--port", "0"], tmp_path / "data", DATABASE_URL=url)
    assert quiet.returncode == 1
    line = _one_line(quiet)
    assert f"127.0.0.1:{closed_port}: connection refused" in line
    debug = _start(["api", "--port", "0"], tmp_path / "data", DATABASE_URL=url, LOG_LEVEL="DEBUG")
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and line.split(" ERROR ")[1] in debug.stderr


async def test_stdio_tells_each_call_why_the_database_cannot_open(
    closed_port: int, tmp_path: Path
) -> None:
    """stdio stays with its client (which started it) and answers every call with the line."""
    env = server_env(
        tmp_path / "data", NO_KEY_PROVIDER,
        DATABASE_URL=f"postgresql+asyncpg://u:p@127.0.0.1:{closed_port}/a",
    )  # fmt: skip
    with anyio.fail_after(180), (tmp_path / "stderr.log").open("w") as errlog:
        async with stdio_client(env, errlog=errlog) as client:
            result = await client.call_tool("list_assistants", {})
    assert result.is_error
    (text,) = [block.text for block in result.content]
    assert text.startswith("DATABASE_URL: cannot open PostgreSQL at 127.0.0.1:"), text
    assert "connection refused" in text and "postgresql+asyncpg://USER" in text


@pytest.mark.parametrize("value", ["not-a-url", "localhost:11434/v1"])
def test_an_openai_base_url_without_a_scheme_is_refused_at_start(
    value: str, tmp_path: Path
) -> None:
    done = _start(["api", "--port", "0"], tmp_path / "data", OPENAI_BASE_URL=value)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("openai-assistant-mcp: error: invalid OPENAI_BASE_URL: must be an")
    assert "http://localhost:11434/v1" in last


async def test_a_provider_404_names_the_url_and_the_v1_suffix(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    """The classic Ollama mistake: OPENAI_BASE_URL without /v1 (here Ollama's native /api,
    where the provider answers 404 with no JSON error)."""
    model_provider.forever(Echo())
    without_v1 = model_provider.base_url.removesuffix("/v1") + "/api"
    env = server_env(tmp_path / "data", without_v1, OPENAI_API_KEY="sk-test-404")
    with anyio.fail_after(180), (tmp_path / "stderr.log").open("w") as errlog:
        async with stdio_client(env, errlog=errlog) as client:
            assistant = await call(client, "create_assistant", {"model": "m"})
            ran = await call(client, "create_thread_and_run", {"assistant_id": assistant["id"]})
    error = ran["run"]["last_error"]
    assert ran["run"]["status"] == "failed"
    assert error["code"] == "server_error"
    assert f"HTTP 404 (not found) at {without_v1}/chat/completions" in error["message"]
    assert "/v1" in error["message"] and "OPENAI_BASE_URL" in error["message"]
