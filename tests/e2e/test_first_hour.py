"""What a newcomer meets on the command line: help with real defaults, one clear line for a
taken port, a warning when runs cannot work, a line when stdio waits on a terminal, and a
WARNING for every run that fails."""

from __future__ import annotations

import os
import pty
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.mcp.servers import COMMAND, server_env, stdio_client
from tests.mcp.workflow import call
from tests.support.scripted_provider import Error, ScriptedProvider

KEY = "sk-first-hour-5d3a9e"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_help_shows_real_defaults_and_describes_every_flag(tmp_path: Path) -> None:
    env = server_env(tmp_path / "unused")
    del env["DATA_DIR"]
    for args in ([], ["api"]):
        shown = _run(*args, "--help", env=env)
        assert shown.returncode == 0, shown.stderr
        text = " ".join(shown.stdout.split())
        assert "default None" not in text and "default False" not in text
        assert re.search(r"--data-dir DATA_DIR .*default /\S+openai-assistant- ?mcp", text)
        flags = re.findall(r"^  (--[a-z-]+)[^\n]*\n?(.*)$", shown.stdout, re.M)
        assert flags
        for line in shown.stdout.split("\n  --")[1:]:  # each flag has words besides its env
            flag, _, help_text = line.partition("\n")
            words = " ".join((flag.split("  ", 1)[1:] or [""]) + [help_text]).split()
            assert len(words) >= 4 and not words[0].startswith("(env"), flag
    api = " ".join(_run("api", "--help", env=env).stdout.split())
    assert "API_HOST" not in api and "API_PORT" not in api
    for setting in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PROVIDER_TIMEOUT"):
        assert setting in api


@pytest.mark.parametrize("args", [["--transport", "streamable-http"], ["api"]], ids=["mcp", "api"])
def test_a_taken_port_is_one_line(args: list[str], taken_port: int, tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", HOST="127.0.0.1")
    answer = _run(*args, "--port", str(taken_port), env=env)
    assert answer.returncode != 0
    lines = [line for line in answer.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, answer.stderr
    assert f"Port {taken_port} " in lines[0] and "already in use" in lines[0]
    assert "--port" in lines[0]


def _stderr_of_stdio_on_a_terminal(env: dict[str, str]) -> str:
    """Start the stdio server with a terminal as its stdin; its stderr after a moment."""
    controller, terminal = pty.openpty()
    log = Path(env["DATA_DIR"]).parent / "stdio-terminal.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [COMMAND], env=env, stdin=terminal, stdout=subprocess.DEVNULL, stderr=sink
        )
    os.close(terminal)
    try:
        # Until it says what it waits for (a readiness wait: a loaded machine starts slowly),
        # then a moment more for anything it would wrongly say twice.
        deadline = time.monotonic() + 60
        while b"waiting for an MCP client" not in log.read_bytes():
            if time.monotonic() > deadline or process.poll() is not None:
                break
            time.sleep(0.1)
        time.sleep(1)
    finally:
        process.terminate()
        process.wait(60)
        os.close(controller)
    return log.read_text()


def test_stdio_on_a_terminal_says_what_it_waits_for_and_warns_without_a_key(
    tmp_path: Path,
) -> None:
    """No key and OpenAI as the provider: runs cannot work, said once at start with the fix."""
    stderr = _stderr_of_stdio_on_a_terminal(server_env(tmp_path / "data"))
    waiting = [line for line in stderr.splitlines() if "waiting for an MCP client" in line]
    assert len(waiting) == 1, stderr
    warnings = [line for line in stderr.splitlines() if "Runs will fail" in line]
    assert len(warnings) == 1, stderr
    assert "OPENAI_API_KEY" in warnings[0] and "OPENAI_BASE_URL" in warnings[0]


def test_no_start_warning_when_runs_can_work(tmp_path: Path) -> None:
    for settings in ({"OPENAI_API_KEY": KEY}, {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}):
        env = server_env(tmp_path / "data", **settings)
        stderr = _stderr_of_stdio_on_a_terminal(env)
        assert "Runs will fail" not in stderr and KEY not in stderr


def test_stdio_without_a_client_ends_quietly(tmp_path: Path) -> None:
    """stdin on the null device (`docker run` without -i, a service with no input) ends the
    stdio server at once, exit 0, with no traceback (epoll refuses the null device)."""
    env = server_env(tmp_path / "data", "http://127.0.0.1:9/v1")
    done = _run(env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and " ERROR " not in done.stderr, done.stderr


async def test_a_failed_run_is_logged_at_warning(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.forever(
        Error(401, f"Incorrect API key provided: {KEY}.", code="invalid_api_key")
    )
    env = server_env(tmp_path / "data", model_provider.base_url, OPENAI_API_KEY=KEY)
    log_path = tmp_path / "stderr.log"
    with anyio.fail_after(120), log_path.open("w") as errlog:
        async with stdio_client(env, errlog=errlog) as client:
            assistant = await call(client, "create_assistant", {"model": "m"})
            ran = await call(client, "create_thread_and_run", {"assistant_id": assistant["id"]})
    run = ran["run"]
    assert run["status"] == "failed"
    log = log_path.read_text()
    expected = (
        f"run {run['id']} on thread {run['thread_id']} failed (last_error.code invalid_api_key)"
    )
    assert any(" WARNING " in line and expected in line for line in log.splitlines()), log
    assert KEY not in log
