"""Hardening round 2 (issue 11), input bounds: items per request (32 messages in a thread create,
content parts, additional messages), integers within the documented range, IDs and cursors
with a length cap and a character set, keys that can go on in a header, JSON nesting, and
client values escaped in the log. Each is a clean 4xx (a one-line tool error over MCP)."""

from __future__ import annotations

import secrets
from typing import Any

import httpx2
import pytest

from tests.hardening.test_request_bodies import LIMITS
from tests.mcp.fixtures import StartServer
from tests.mcp.servers import INITIALIZE, ServerProcess, streamable_client
from tests.mcp.workflow import call, call_error

MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def api(start_server: StartServer) -> ServerProcess:
    return start_server("r2-bodies-api", "api", **LIMITS)


@pytest.fixture(scope="module")
def mcp_http(start_server: StartServer) -> ServerProcess:
    return start_server("r2-bodies-http", TRANSPORT="streamable-http", **LIMITS)


@pytest.fixture(scope="module")
def mcp_sse(start_server: StartServer) -> ServerProcess:
    return start_server("r2-bodies-sse", TRANSPORT="sse", **LIMITS)


@pytest.fixture
def rest(api: ServerProcess) -> httpx2.Client:
    key = "sk-r2-" + secrets.token_hex(8)
    headers = {"Authorization": f"Bearer {key}", "OpenAI-Beta": "assistants=v2"}
    with httpx2.Client(base_url=api.url("/v1"), headers=headers, timeout=30) as client:
        yield client


def _refusal(response: httpx2.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert "\n" not in error["message"]
    return error


def _messages(n: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"m{i}"} for i in range(n)]


# --- items per request ----------------------------------------------------------------------------


def test_a_thread_takes_at_most_32_messages(rest: httpx2.Client) -> None:
    error = _refusal(rest.post("/threads", json={"messages": _messages(33)}))
    assert error["param"] == "messages"
    assert "at most 32 items" in error["message"]
    thread = rest.post("/threads", json={"messages": _messages(32)}).json()
    listed = rest.get(f"/threads/{thread['id']}/messages", params={"limit": 100}).json()
    assert len(listed["data"]) == 32


def test_runs_take_at_most_32_additional_messages_and_a_message_32_parts(
    rest: httpx2.Client,
) -> None:
    assistant = rest.post("/assistants", json={"model": "m"}).json()
    thread = rest.post("/threads", json={}).json()
    error = _refusal(
        rest.post(
            f"/threads/{thread['id']}/runs",
            json={"assistant_id": assistant["id"], "additional_messages": _messages(33)},
        )
    )
    assert error["param"] == "additional_messages"
    parts = [{"type": "text", "text": "x"}] * 33
    error = _refusal(
        rest.post(f"/threads/{thread['id']}/messages", json={"role": "user", "content": parts})
    )
    assert error["param"] == "content"
    nested = {"messages": [{"role": "user", "content": parts}]}
    assert _refusal(rest.post("/threads", json=nested))["param"] == "messages[0].content"
    assert rest.get(f"/threads/{thread['id']}/messages").json()["data"] == []


# --- integers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("truncation_strategy", {"type": "last_messages", "last_messages": 2**63 - 16},
         "truncation_strategy.last_messages"),
        ("truncation_strategy", {"type": "last_messages", "last_messages": 2**70},
         "truncation_strategy.last_messages"),
        ("max_prompt_tokens", 2**40, "max_prompt_tokens"),
        ("max_completion_tokens", 2**63, "max_completion_tokens"),
    ],
)  # fmt: skip
def test_huge_integers_are_refused_naming_the_field(
    rest: httpx2.Client, field: str, value: Any, param: str
) -> None:
    assistant = rest.post("/assistants", json={"model": "m"}).json()
    body = {"assistant_id": assistant["id"], field: value}
    error = _refusal(rest.post("/threads/runs", json=body))
    assert error["param"] == param


def test_a_huge_list_limit_is_refused(rest: httpx2.Client) -> None:
    assert _refusal(rest.get("/assistants", params={"limit": 2**70}))["param"] == "limit"


# --- IDs and cursors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/assistants/asst_" + "x" * 20_000, None, "assistant_id"),
        ("/threads/thread_%20x", None, "thread_id"),
        ("/threads/thread_x/messages/" + "m" * 129, None, "message_id"),
        ("/assistants", {"after": "asst_" + "x" * 20_000}, "after"),
        ("/assistants", {"before": "asst_x;drop"}, "before"),
        ("/threads/thread_x/messages", {"run_id": "run_" + "y" * 500}, "run_id"),
    ],
)
def test_ids_and_cursors_have_a_length_cap_and_charset(
    rest: httpx2.Client, path: str, params: dict[str, str] | None, param: str
) -> None:
    error = _refusal(rest.get(path, params=params))
    assert error["param"] == param
    assert "an ID is 1 to 128 letters, digits, '_' or '-'" in error["message"]


async def test_mcp_tool_ids_and_integers_are_bounded(mcp_http: ServerProcess) -> None:
    async with streamable_client(mcp_http.url("/mcp")) as client:
        error = await call_error(client, "get_assistant", {"assistant_id": "asst_" + "x" * 20_000})
        assert "assistant_id" in error and not error.startswith("Internal error")
        error = await call_error(client, "list_assistants", {"after": "asst_" + "x" * 500})
        assert "after" in error
        error = await call_error(client, "get_thread", {"thread_id": "thread_a/b"})
        assert "thread_id" in error
        assistant = await call(client, "create_assistant", {"model": "m"})
        huge = {"type": "last_messages", "last_messages": 2**63 - 16}
        args = {"assistant_id": assistant["id"], "truncation_strategy": huge, "timeout": 1}
        error = await call_error(client, "create_thread_and_run", args)
        assert "last_messages" in error and not error.startswith("Internal error")


# --- keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["sk-\u00e9t\u00e9", "sk-a b", "sk-" + "k" * 300])
def test_a_key_that_cannot_go_on_in_a_header_is_refused(
    api: ServerProcess, mcp_http: ServerProcess, key: str
) -> None:
    raw = key.encode("utf-8")
    answer = httpx2.get(api.url("/v1/assistants"), headers=[(b"authorization", b"Bearer " + raw)])
    error = _refusal(answer)
    assert error["message"].startswith("Invalid Authorization header: an API key is printable")
    answer = httpx2.post(
        mcp_http.url("/mcp"),
        json=INITIALIZE,
        headers=[
            (b"x-openai-api-key", raw),
            *((k.encode(), v.encode()) for k, v in MCP_HEADERS.items()),
        ],
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"].startswith("Invalid X-OpenAI-API-Key header")


# --- JSON nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1_000, 30_000])  # 30,000: just under the 64 KiB cap
def test_deep_json_is_a_clean_400(api: ServerProcess, mcp_http: ServerProcess, depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    json_headers = {"Content-Type": "application/json", **MCP_HEADERS}
    answer = httpx2.post(mcp_http.url("/mcp"), content=deep, headers=json_headers)
    assert answer.status_code == 400, answer.text
    assert "deeper than 200 levels" in answer.json()["error"]["message"]
    call = b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_assistant",'
    call += b'"arguments":{"model":"m","metadata":{"a":' + deep + b"}}}}"
    answer = httpx2.post(mcp_http.url("/mcp"), content=call, headers=json_headers)
    assert answer.status_code == 400, answer.text
    body = b'{"model":"m","metadata":' + deep + b"}"
    answer = httpx2.post(api.url("/v1/assistants"), content=body, headers=json_headers)
    assert _refusal(answer)["code"] is None
    for server in (api, mcp_http):
        assert "Traceback" not in server.log()
        assert "RecursionError" not in server.log()


# --- logs -----------------------------------------------------------------------------------------


def test_a_forged_newline_in_a_session_id_is_logged_escaped(mcp_sse: ServerProcess) -> None:
    """Issue 11 item 7: `zz%0a<forged line>` was logged decoded at WARNING."""
    forged = "2026-01-01 00:00:00,000 WARNING forged: the admin logged in"
    url = mcp_sse.url("/messages/") + "?session_id=zz%0a" + forged.replace(" ", "%20")
    answer = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert answer.status_code == 400
    log = mcp_sse.log()
    assert "Received invalid session ID: zz\\x0a" + forged in log
    assert not any(line.startswith(forged) for line in log.splitlines())
