"""A forged or stolen MCP session id grants nothing (issue 21 item 8, an issue 11 finding kept
fixed): not another session's state, not its caller's key. Multi-user servers
(MCP_CREDENTIALS_PASSTHROUGH behind MCP_AUTH_TOKEN): the attacker is another tenant who holds
the door's token but not the victim's OpenAI key."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import httpx2
import pytest

from tests.hardening.conftest import MCP_TOKEN
from tests.mcp.fixtures import StartServer
from tests.mcp.servers import INITIALIZE, ServerProcess, sse_client_for
from tests.mcp.workflow import call

PROTOCOL = INITIALIZE["params"]["protocolVersion"]
DOOR = {"Authorization": f"Bearer {MCP_TOKEN}", "Accept": "application/json, text/event-stream"}


MULTI_USER = {"MCP_CREDENTIALS_PASSTHROUGH": "true", "MCP_AUTH_TOKEN": MCP_TOKEN}


@pytest.fixture(scope="module")
def http_server(start_server: StartServer) -> ServerProcess:
    return start_server("forged-ids-http", TRANSPORT="streamable-http", **MULTI_USER)


@pytest.fixture(scope="module")
def sse_server(start_server: StartServer) -> ServerProcess:
    return start_server("forged-ids-sse", TRANSPORT="sse", **MULTI_USER)


def _message(method: str, params: dict[str, Any], ident: int = 7) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}


def _tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return _message("tools/call", {"name": name, "arguments": arguments})


async def _open_session(http: httpx2.AsyncClient, url: str, key: str) -> str:
    """A legacy (2025-06-18) session opened with `key`; returns its id."""
    answer = await http.post(url, json=INITIALIZE, headers={**DOOR, "X-OpenAI-API-Key": key})
    assert answer.status_code == 200, answer.text
    session_id = answer.headers["mcp-session-id"]
    headers = {**DOOR, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL}
    done = await http.post(
        url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
    )
    assert done.status_code == 202
    return session_id


def _result(answer: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC result of a tools/call answered as JSON or as one SSE event."""
    if answer.headers.get("content-type", "").startswith("text/event-stream"):
        data = next(line[5:] for line in answer.text.splitlines() if line.startswith("data:"))
        return dict(httpx2.Response(200, content=data.encode()).json()["result"])
    return dict(answer.json()["result"])


async def test_streamable_http_a_forged_or_stolen_session_id_grants_nothing(
    http_server: ServerProcess,
) -> None:
    server = http_server
    url = server.url("/mcp")
    alice_key = "sk-alice-session-" + secrets.token_hex(8)
    mallory_key = "sk-mallory-session-" + secrets.token_hex(8)
    async with httpx2.AsyncClient(timeout=60) as http:
        alice = await _open_session(http, url, alice_key)
        session = {**DOOR, "Mcp-Session-Id": alice, "MCP-Protocol-Version": PROTOCOL}
        made = _result(
            await http.post(
                url,
                json=_tool_call("create_assistant", {"model": "m", "name": "alice's secret"}),
                headers={**session, "X-OpenAI-API-Key": alice_key},
            )
        )
        assert not made.get("isError"), made
        alice_assistant = made["structuredContent"]["id"]

        # A forged id (well formed, never handed out) opens nothing and answers no call.
        forged = {**DOOR, "Mcp-Session-Id": uuid.uuid4().hex, "MCP-Protocol-Version": PROTOCOL}
        for headers in (forged, {**forged, "X-OpenAI-API-Key": mallory_key}):
            answer = await http.post(url, json=_tool_call("list_assistants", {}), headers=headers)
            assert answer.status_code == 404, answer.text
            assert "alice" not in answer.text and "structuredContent" not in answer.text
        assert (await http.get(url, headers=forged)).status_code == 404  # no stream either
        assert (await http.delete(url, headers=forged)).status_code == 404

        # Alice's real id, stolen: without the door's token nothing at all...
        stolen_no_door = {k: v for k, v in session.items() if k != "Authorization"}
        answer = await http.post(
            url, json=_tool_call("list_assistants", {}), headers=stolen_no_door
        )
        assert answer.status_code == 401
        # ...with the token but no key, no key is lent from the session's opening request...
        answer = await http.post(url, json=_tool_call("list_assistants", {}), headers=session)
        refused = _result(answer)
        assert refused["isError"] is True
        assert refused["content"][0]["text"].startswith("No API key")
        # ...and with Mallory's own key, Mallory's tenant answers: Alice's objects stay hers.
        mine = {**session, "X-OpenAI-API-Key": mallory_key}
        listed = _result(await http.post(url, json=_tool_call("list_assistants", {}), headers=mine))
        assert not listed.get("isError"), listed
        assert alice_assistant not in {a["id"] for a in listed["structuredContent"]["data"]}
        lookup = _tool_call("get_assistant", {"assistant_id": alice_assistant})
        denied = _result(await http.post(url, json=lookup, headers=mine))
        assert denied["isError"] is True and "alice's secret" not in str(denied)

        # Alice's session still works for Alice.
        again = _result(
            await http.post(url, json=lookup, headers={**session, "X-OpenAI-API-Key": alice_key})
        )
        assert again["structuredContent"]["name"] == "alice's secret"
    assert alice_key not in server.log() and mallory_key not in server.log()


async def test_sse_a_forged_session_id_grants_nothing(sse_server: ServerProcess) -> None:
    server = sse_server
    alice_key = "sk-alice-sse-" + secrets.token_hex(8)
    mallory_key = "sk-mallory-sse-" + secrets.token_hex(8)
    headers = {"Authorization": f"Bearer {MCP_TOKEN}", "X-OpenAI-API-Key": alice_key}
    async with sse_client_for(server.url("/sse"), headers) as alice:
        made = await call(alice, "create_assistant", {"model": "m", "name": "alice's sse"})
        async with httpx2.AsyncClient(timeout=60) as http:
            mallory = {**DOOR, "X-OpenAI-API-Key": mallory_key}
            for session_id in (uuid.uuid4().hex, "0" * 32):
                answer = await http.post(
                    server.url(f"/messages/?session_id={session_id}"),
                    json=_tool_call("get_assistant", {"assistant_id": made["id"]}),
                    headers=mallory,
                )
                # Nothing to post into: refused, and the answer carries no result.
                assert answer.status_code == 404, answer.text
                assert "alice" not in answer.text
        # Alice's stream is untouched by the attempts.
        again = await call(alice, "get_assistant", {"assistant_id": made["id"]})
        assert again["name"] == "alice's sse"
