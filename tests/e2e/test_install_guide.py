"""docs/install-guide.md's claims, run where the machine allows: the guide's HTTP command is
refused in one line without a token; this project's equivalent for mcpo in Docker answers the
Host `host.docker.internal` (as the page sets MCP_ALLOWED_HOSTS), and a server without it
refuses that Host with 421."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import httpx2

from tests.mcp.servers import COMMAND, free_port, running_server, server_env

PAGE = Path(__file__).resolve().parents[2] / "docs" / "install-guide.md"


def _page_hosts() -> str:
    (hosts,) = set(re.findall(r"MCP_ALLOWED_HOSTS='([^']+)'", PAGE.read_text()))
    return hosts


def test_the_guides_http_command_without_a_token_is_refused_in_one_line(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", TRANSPORT="streamable-http", HOST="0.0.0.0")
    env["PORT"] = str(free_port())
    done = subprocess.run(
        [COMMAND], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "MCP_AUTH_TOKEN" in lines[0], done.stderr


def _sse_status(port: int, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "Host": f"host.docker.internal:{port}"}
    with httpx2.stream(
        "GET", f"http://127.0.0.1:{port}/sse", headers=headers, timeout=60
    ) as answer:
        return answer.status_code


def test_the_pages_server_answers_host_docker_internal(tmp_path: Path) -> None:
    token = secrets.token_hex(16)
    for hosts, expected in ((_page_hosts(), 200), (None, 421)):
        port = free_port()
        settings = {"MCP_ALLOWED_HOSTS": hosts} if hosts else {}
        env = server_env(
            tmp_path / "data", "http://127.0.0.1:9/v1", TRANSPORT="sse", PORT=str(port),
            MCP_AUTH_TOKEN=token, MCP_CREDENTIALS_PASSTHROUGH="true", **settings,
        )  # fmt: skip
        with running_server([], env, tmp_path / "server.log") as server:
            assert _sse_status(port, token) == expected, server.log()
