"""A run-wait setting the run tools cannot honour is refused at start;
over SSE with passthrough a message POST runs with its own key, not the stream's."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.sse import sse_client

from tests.mcp.fixtures import StartServer
from tests.mcp.servers import COMMAND, server_env, sse_client_for
from tests.mcp.workflow import call, call_error


def test_a_run_wait_timeout_above_the_tools_maximum_is_refused_at_start(tmp_path: Path) -> None:
    """RUN_WAIT_TIMEOUT becomes the run tools' default `timeout`, which allows at most 600 s:
    a larger setting used to start fine and then fail every run call that gave no timeout."""
    env = server_env(tmp_path, RUN_WAIT_TIMEOUT="900")
    done = subprocess.run([COMMAND], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "invalid RUN_WAIT_TIMEOUT: Input should be less than or equal to 600" in done.stderr


class _KeyPerMethod(httpx2.Auth):
    """Sends one key with the SSE stream's GET and another with the message POSTs."""

    def __init__(self, get_key: str, post_key: str) -> None:
        self.keys = {"GET": get_key, "POST": post_key}

    def auth_flow(self, request: httpx2.Request):  # type: ignore[no-untyped-def]
        request.headers["X-OpenAI-API-Key"] = self.keys[request.method]
        yield request


async def test_sse_a_message_post_runs_with_its_own_key_not_the_streams(
    start_server: StartServer,
) -> None:
    server = start_server("multi-user-sse", TRANSPORT="sse", MCP_CREDENTIALS_PASSTHROUGH="true")
    stream_key, post_key = (f"sk-sse-{n}-{secrets.token_hex(8)}" for n in "ab")
    auth = _KeyPerMethod(stream_key, post_key)
    async with Client(sse_client(server.url("/sse"), auth=auth, timeout=120.0)) as client:
        made = await call(client, "create_assistant", {"model": "m", "name": "posted"})
    url = server.url("/sse")
    async with sse_client_for(url, {"X-OpenAI-API-Key": post_key}) as client:
        assert (await call(client, "get_assistant", {"assistant_id": made["id"]}))["id"]
    async with sse_client_for(url, {"X-OpenAI-API-Key": stream_key}) as client:
        error = await call_error(client, "get_assistant", {"assistant_id": made["id"]})
    assert error.startswith("Assistants API error 404")
