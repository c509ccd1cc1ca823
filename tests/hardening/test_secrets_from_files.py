"""Hardening round 2 (issue 11): secrets from files rather than the command line (which every
local user can read in the process list), a warning for one given in argv; and over SSE the
key goes on every POST (a key sent only with the stream's GET is not used)."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.sse import sse_client

from tests.mcp.fixtures import StartServer
from tests.mcp.servers import COMMAND, free_port, running_server, server_env
from tests.mcp.workflow import call_error

INITIALIZE_HEADERS = {"Accept": "application/json, text/event-stream"}


def _token_file(tmp_path: Path) -> tuple[str, Path]:
    token = "door-" + secrets.token_hex(12)
    path = tmp_path / "token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token, path


def test_the_access_token_from_a_file_opens_the_door_and_stays_out_of_argv(
    tmp_path: Path,
) -> None:
    token, path = _token_file(tmp_path)
    port = str(free_port())
    env = server_env(tmp_path / "data")
    args = ["api", "--port", port, "--auth-token-file", str(path)]
    with running_server(args, env, tmp_path / "api.log") as server:
        url = server.url("/v1/assistants")
        assert httpx2.get(url).status_code == 401
        assert httpx2.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert token.encode() not in cmdline
    assert "warning" not in server.log()


def test_the_mcp_token_from_the_environment_names_a_file(tmp_path: Path) -> None:
    token, path = _token_file(tmp_path)
    env = server_env(
        tmp_path / "data",
        TRANSPORT="streamable-http",
        HOST="127.0.0.1",
        PORT=str(free_port()),
        MCP_AUTH_TOKEN_FILE=str(path),
    )
    with running_server([], env, tmp_path / "mcp.log") as server:
        url = server.url("/mcp")
        assert httpx2.post(url, json={}, headers=INITIALIZE_HEADERS).status_code == 401
        opened = httpx2.post(
            url, json={}, headers={**INITIALIZE_HEADERS, "Authorization": f"Bearer {token}"}
        )
        assert opened.status_code != 401


def test_a_secret_in_argv_gets_a_warning_and_an_unreadable_file_an_error(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data")
    done = subprocess.run(
        [COMMAND, "api", "--auth-token-file", str(tmp_path / "missing")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"cannot read --auth-token-file '{tmp_path / 'missing'}': No such file" in done.stderr
    port = str(free_port())
    args = ["api", "--port", port, "--auth-token", "door-in-argv"]
    with running_server(args, env, tmp_path / "argv.log") as server:
        pass
    assert (
        "warning: --auth-token puts a secret on the command line, where other local users can "
        "read it (ps); use API_AUTH_TOKEN or --auth-token-file instead."
    ) in server.log()


class _KeyOnTheStreamOnly(httpx2.Auth):
    """Sends the key with the SSE stream's GET, none with the message POSTs."""

    def __init__(self, key: str) -> None:
        self.key = key

    def auth_flow(self, request: httpx2.Request):  # type: ignore[no-untyped-def]
        if request.method == "GET":
            request.headers["X-OpenAI-API-Key"] = self.key
        yield request


async def test_sse_a_key_sent_only_with_the_stream_is_not_used(start_server: StartServer) -> None:
    """Issue 11 item 11: the stream's key is no fallback for its POSTs (a leaked session ID
    would otherwise run as the stream's owner); docs/clients.md says the key goes on every POST."""
    server = start_server("multi-user-sse", TRANSPORT="sse", MCP_CREDENTIALS_PASSTHROUGH="true")
    auth = _KeyOnTheStreamOnly("sk-stream-only-" + secrets.token_hex(8))
    async with Client(sse_client(server.url("/sse"), auth=auth, timeout=120.0)) as client:
        error = await call_error(client, "list_assistants", {})
    assert error.startswith("No API key: send it in the X-OpenAI-API-Key header")


def test_the_docs_say_the_key_goes_on_every_post() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
    assert "The key goes on **every** request. Over SSE that means every message POST" in (
        docs.read_text()
    )
