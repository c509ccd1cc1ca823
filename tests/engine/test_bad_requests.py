"""Bad requests: each gets OpenAI's error envelope naming the cause, and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
import pytest
from fastapi import FastAPI

from tests.support.engine import dump_tables

OTHER_KEY = "sk-test-bad-requests-other-51ac"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: Any = None  # JSON value, or bytes sent as-is
    status: int = 400
    param: str | None = None
    message: str = ""  # a substring of the error message
    content_type: str = "application/json"


def _many(count: int) -> dict[str, str]:
    return {f"k{i}": "v" for i in range(count)}


LONG = "x" * 300
FN = {"type": "function", "function": {"name": "f"}}
CASES = [
    # --- body shape ---
    Case("invalid JSON", "POST", "/assistants", b'{"model": "gpt-4o",', message="valid JSON"),
    Case("JSON array body", "POST", "/assistants", [{"model": "m"}], message="JSON object"),
    Case("JSON string body", "POST", "/threads", "hello", message="JSON object"),
    Case("not JSON at all", "POST", "/threads", b"model=m", message="JSON object",
         content_type="application/x-www-form-urlencoded"),
    Case("missing body", "POST", "/assistants", b"", message="missing"),
    Case("unparseably deep nesting", "POST", "/assistants",
         b'{"model":"m","metadata":' + b"[" * 5000 + b"]" * 5000 + b"}", message="parsing"),
    Case("deep nesting", "POST", "/assistants",
         b'{"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":'
         + b'{"a":' * 150 + b"1" + b"}" * 150 + b"}}]}",
         param="tools", message="Invalid 'tools': nested deeper than 100 levels."),
    # --- unknown fields ---
    Case("unknown field", "POST", "/assistants", {"model": "m", "colour": "red"}, param="colour",
         message="Unrecognized request argument supplied: colour"),
    Case("unknown thread field", "POST", "/threads", {"title": "x"}, param="title"),
    Case("unknown nested field", "POST", "/threads",
         {"messages": [{"role": "user", "content": "x", "name": "n"}]}, param="messages[0].name"),
    Case("modify message content", "POST", "/threads/{thread}/messages/{message}",
         {"content": "new"}, param="content", message="Unrecognized"),
    # --- wrong types ---
    Case("model not a string", "POST", "/assistants", {"model": 5}, param="model"),
    Case("missing model", "POST", "/assistants", {"name": "x"}, param="model",
         message="Missing required parameter: 'model'."),
    Case("temperature as string", "POST", "/assistants", {"model": "m", "temperature": "1"},
         param="temperature"),
    Case("top_p as boolean", "POST", "/assistants", {"model": "m", "top_p": True}, param="top_p"),
    Case("temperature out of range", "POST", "/assistants", {"model": "m", "temperature": 3},
         param="temperature"),
    Case("NaN", "POST", "/assistants", b'{"model": "m", "temperature": NaN}', param="temperature"),
    Case("tool type unknown", "POST", "/assistants", {"model": "m", "tools": [{"type": "web"}]},
         param="tools[0]"),
    Case("function name invalid", "POST", "/assistants",
         {"model": "m", "tools": [{"type": "function", "function": {"name": "a b"}}]},
         param="tools[0].function.name"),
    Case("model null on modify", "POST", "/assistants/{assistant}", {"model": None},
         param="model"),
    Case("messages not a list", "POST", "/threads", {"messages": "hi"}, param="messages"),
    Case("role system", "POST", "/threads/{thread}/messages", {"role": "system", "content": "x"},
         param="role"),
    Case("content number", "POST", "/threads/{thread}/messages", {"role": "user", "content": 1},
         param="content"),
    Case("metadata value number", "POST", "/threads/{thread}", {"metadata": {"a": 1}},
         param="metadata.a"),
    Case("metadata not an object", "POST", "/threads", {"metadata": ["a"]}, param="metadata"),
    Case("content part unknown", "POST", "/threads/{thread}/messages",
         {"role": "user", "content": [{"type": "audio", "audio": {}}]}, param="content[0]"),
    Case("image url not http", "POST", "/threads/{thread}/messages",
         {"role": "user",
          "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]},
         param="content[0].image_url.url"),
    Case("image detail unknown", "POST", "/threads/{thread}/messages",
         {"role": "user",
          "content": [{"type": "image_file", "image_file": {"file_id": "f", "detail": "max"}}]},
         param="content[0].image_file.detail"),
    Case("attachment without tools", "POST", "/threads/{thread}/messages",
         {"role": "user", "content": "x", "attachments": [{"file_id": "f"}]},
         param="attachments[0].tools"),
    Case("NUL in content", "POST", "/threads/{thread}/messages",
         b'{"role": "user", "content": "a\\u0000b"}', param="content"),
    Case("unpaired surrogate", "POST", "/threads", b'{"metadata": {"k": "\\ud800"}}',
         param="metadata.k"),
    Case("vector store helper, unknown file", "POST", "/threads",
         {"tool_resources": {"file_search": {"vector_stores": [{"file_ids": ["f"]}]}}},
         param="tool_resources.file_search.vector_stores[0].file_ids[0]"),
    Case("unknown vector store", "POST", "/assistants",
         {"model": "m", "tool_resources": {"file_search": {"vector_store_ids": ["vs_x"]}}},
         param="tool_resources.file_search.vector_store_ids[0]"),
    Case("two vector stores", "POST", "/threads",
         {"tool_resources": {"file_search": {"vector_store_ids": ["vs_a", "vs_b"]}}},
         param="tool_resources.file_search.vector_store_ids"),
    Case("helper chunking", "POST", "/threads",
         {"tool_resources": {"file_search": {"vector_stores": [{"chunking_strategy": {
             "type": "static",
             "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0}}}]}}},
         param="tool_resources.file_search.vector_stores[0].chunking_strategy"),
    # --- limits ---
    Case("name 257 chars", "POST", "/assistants", {"model": "m", "name": "n" * 257},
         param="name"),
    Case("description 513", "POST", "/assistants", {"model": "m", "description": "d" * 513},
         param="description"),
    Case("instructions 256001", "POST", "/assistants",
         {"model": "m", "instructions": "i" * 256_001}, param="instructions"),
    Case("129 tools", "POST", "/assistants", {"model": "m", "tools": [FN] * 129}, param="tools"),
    Case("17 metadata keys", "POST", "/assistants", {"model": "m", "metadata": _many(17)},
         param="metadata"),
    Case("17 metadata keys on a thread", "POST", "/threads", {"metadata": _many(17)},
         param="metadata"),
    Case("17 metadata keys on a message", "POST", "/threads/{thread}/messages/{message}",
         {"metadata": _many(17)}, param="metadata"),
    Case("metadata key 65 chars", "POST", "/threads", {"metadata": {"k" * 65: "v"}},
         param="metadata", message="Invalid 'metadata' key: String should have at most 64"),
    Case("missing tool function", "POST", "/assistants",
         {"model": "m", "tools": [{"type": "function"}]}, param="tools[0].function",
         message="Missing required parameter: 'tools[0].function'."),
    Case("metadata value 513 chars", "POST", "/threads/{thread}", {"metadata": {"k": "v" * 513}},
         param="metadata.k"),
    Case("empty content", "POST", "/threads/{thread}/messages", {"role": "user", "content": ""},
         param="content"),
    Case("empty content list", "POST", "/threads/{thread}/messages",
         {"role": "user", "content": []}, param="content"),
    Case("empty text part", "POST", "/threads/{thread}/messages",
         {"role": "user", "content": [{"type": "text", "text": ""}]}, param="content[0].text"),
    Case("content too long", "POST", "/threads/{thread}/messages",
         {"role": "user", "content": "c" * 256_001}, param="content"),
    Case("21 code interpreter files", "POST", "/threads",
         {"tool_resources": {"code_interpreter": {"file_ids": ["f"] * 21}}},
         param="tool_resources.code_interpreter.file_ids"),
    Case("one bad message of many", "POST", "/threads",
         {"messages": [{"role": "user", "content": "ok"}, {"role": "user", "content": ""}]},
         param="messages[1].content"),
    # --- list parameters ---
    Case("limit 0", "GET", "/assistants?limit=0", param="limit"),
    Case("limit 101", "GET", "/threads/{thread}/messages?limit=101", param="limit"),
    Case("limit not a number", "GET", "/assistants?limit=ten", param="limit"),
    Case("order sideways", "GET", "/threads/{thread}/messages?order=sideways", param="order"),
    Case("unknown after", "GET", "/assistants?after=asst_nope", param="after"),
    Case("unknown before", "GET", "/threads/{thread}/messages?before=msg_nope", param="before"),
    Case("message of another thread as cursor", "GET",
         "/threads/{thread}/messages?after={other_thread_message}", param="after"),
    Case("NUL in a query parameter", "GET", "/assistants?after=%00", param="after"),
    # --- unknown and foreign IDs ---
    Case("unknown assistant", "GET", "/assistants/asst_nope", status=404,
         message="No assistant found with id 'asst_nope'."),
    Case("unknown assistant modify", "POST", "/assistants/asst_nope", {"name": "x"}, status=404),
    Case("unknown assistant delete", "DELETE", "/assistants/asst_nope", status=404),
    Case("unknown thread", "GET", "/threads/thread_nope", status=404,
         message="No thread found with id 'thread_nope'."),
    Case("unknown thread modify", "POST", "/threads/thread_nope", {}, status=404),
    Case("unknown thread delete", "DELETE", "/threads/thread_nope", status=404),
    Case("message on unknown thread", "POST", "/threads/thread_nope/messages",
         {"role": "user", "content": "x"}, status=404, message="No thread found"),
    Case("unknown message", "GET", "/threads/{thread}/messages/msg_nope", status=404,
         message="No message found with id 'msg_nope'."),
    Case("unknown message modify", "POST", "/threads/{thread}/messages/msg_nope", {},
         status=404),
    Case("unknown message delete", "DELETE", "/threads/{thread}/messages/msg_nope", status=404),
    Case("other tenant's assistant", "DELETE", "/assistants/{other_assistant}", status=404,
         message="No assistant found with id"),
    Case("other tenant's thread", "POST", "/threads/{other_thread}", {"metadata": {}},
         status=404, message="No thread found with id"),
    Case("message on other tenant's thread", "POST", "/threads/{other_thread}/messages",
         {"role": "user", "content": "x"}, status=404, message="No thread found with id"),
    Case("cursor on other tenant's thread", "GET",
         "/threads/{other_thread}/messages?after={other_message}", status=404,
         message="No thread found with id"),
    Case("other tenant's message", "DELETE",
         "/threads/{other_thread}/messages/{other_message}", status=404),
    Case("unknown path", "GET", "/threadz", status=404, message="Invalid URL"),
    Case("wrong method", "PUT", "/threads/{thread}", {}, status=405),
]  # fmt: skip


@pytest.fixture(scope="module")
async def objects(client_for: Callable[[str], openai.AsyncOpenAI]) -> dict[str, str]:
    """IDs the cases refer to: the test client's own objects and another tenant's."""
    from tests.conftest import TEST_API_KEY

    ours, theirs = client_for(TEST_API_KEY), client_for(OTHER_KEY)
    thread = await ours.beta.threads.create(messages=[{"role": "user", "content": "x"}])
    other_thread = await theirs.beta.threads.create(messages=[{"role": "user", "content": "y"}])
    second_thread = await ours.beta.threads.create(messages=[{"role": "user", "content": "z"}])
    return {
        "assistant": (await ours.beta.assistants.create(model="m")).id,
        "thread": thread.id,
        "message": (await ours.beta.threads.messages.list(thread.id)).data[0].id,
        "other_assistant": (await theirs.beta.assistants.create(model="m")).id,
        "other_thread": other_thread.id,
        "other_message": (await theirs.beta.threads.messages.list(other_thread.id)).data[0].id,
        "other_thread_message": (await ours.beta.threads.messages.list(second_thread.id))
        .data[0]
        .id,
    }


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_bad_request(
    case: Case, http: httpx2.AsyncClient, engine_app: FastAPI, objects: dict[str, str]
) -> None:
    before = await dump_tables(engine_app)
    content = case.body if isinstance(case.body, bytes) else None
    if case.body is not None and content is None:
        content = json.dumps(case.body).encode()
    headers = {"content-type": case.content_type} if content is not None else {}
    response = await http.request(
        case.method, "/v1" + case.path.format(**objects), content=content, headers=headers
    )

    assert response.status_code == case.status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == case.param, error
    assert case.message in error["message"], error
    assert "\n" not in error["message"] and len(error["message"]) < 400, error
    assert await dump_tables(engine_app) == before
