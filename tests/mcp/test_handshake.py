"""The stdio handshake answered before the MCP SDK loads (mcp/handshake.py): the answer is the
SDK's own, kept from an earlier start, and the session that follows is the SDK's as ever."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

from openai_assistant_mcp.mcp.handshake import FILE_NAME
from tests.mcp.servers import INITIALIZE, raw_stdio_exchange, server_env, stdio_client
from tests.mcp.workflow import call

INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
CALL = {
    "jsonrpc": "2.0",
    "id": 3,
    "method": "tools/call",
    "params": {"name": "list_assistants", "arguments": {}},
}


def session(env: dict[str, str], initialize: dict[str, Any] = INITIALIZE) -> list[dict[str, Any]]:
    lines = raw_stdio_exchange(env, initialize, INITIALIZED, LIST_TOOLS, CALL)
    return [json.loads(line) for line in lines]


def test_a_later_start_answers_the_kept_handshake_and_serves_as_before(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data")
    first = session(env)
    kept_file = tmp_path / "data" / FILE_NAME
    [kept] = json.loads(kept_file.read_text()).values()
    assert kept == first[0]["result"]  # the SDK's own answer, kept
    second = session(env)
    assert second[0] == first[0]
    assert [a["id"] for a in second] == [1, 2, 3]  # each request answered once, in order
    assert second[1]["result"]["tools"] == first[1]["result"]["tools"]
    assert not second[2]["result"].get("isError"), second[2]


def test_the_kept_answer_goes_out_first_and_an_out_of_date_one_is_replaced(
    tmp_path: Path,
) -> None:
    env = server_env(tmp_path / "data")
    sdk_answer = session(env)[0]["result"]
    kept_file = tmp_path / "data" / FILE_NAME
    [key] = json.loads(kept_file.read_text())
    stale = {**sdk_answer, "instructions": "kept from an older build"}
    kept_file.write_text(json.dumps({key: stale}))

    answered = session(env)
    # Sent before the SDK loaded: the kept answer, whatever it says ...
    assert answered[0]["result"] == stale
    assert not answered[2]["result"].get("isError"), answered[2]
    # ... and the SDK's own answer to the same request replaced it for the next start.
    assert json.loads(kept_file.read_text()) == {key: sdk_answer}
    assert session(env)[0]["result"] == sdk_answer


def test_another_protocol_version_is_negotiated_by_the_sdk(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data")
    session(env)
    older = {**INITIALIZE, "params": {**INITIALIZE["params"], "protocolVersion": "2024-11-05"}}
    for _ in range(2):  # first answered by the SDK, then from the kept answer
        answer = session(env, older)
        assert answer[0]["result"]["protocolVersion"] == "2024-11-05"
        assert not answer[2]["result"].get("isError"), answer[2]
    assert len(json.loads((tmp_path / "data" / FILE_NAME).read_text())) == 2


async def test_the_sdk_clients_discovery_is_kept_too(tmp_path: Path) -> None:
    """The MCP SDK's own client opens with server/discover (protocol 2026-07-28)."""
    env = server_env(tmp_path / "data")
    for _ in range(2):
        with anyio.fail_after(120):
            async with stdio_client(env) as client:
                made = await call(client, "create_assistant", {"model": "gpt-test"})
                assert made["id"].startswith("asst_")
    kept = json.loads((tmp_path / "data" / FILE_NAME).read_text())
    assert any(key.startswith('["server/discover"') for key in kept), kept
