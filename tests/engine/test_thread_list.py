"""GET /v1/x-threads: the thread list extension (the console's list of threads to reopen).

Paged as OpenAI's lists are (limit, order, after, before), scoped to the caller's tenant, each
thread with its newest message and run. Responses pass the strict spec check (conftest) against
the extension's schema (tests/support/spec.py, EXTENSION_PATHS)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import openai
import pytest
from fastapi import FastAPI

from openai_assistant_mcp.engine.store.repository import PREVIEW_CHARS
from tests.support.engine import SpecViolations, asgi_http_client

from .helpers import add_run_message, insert_run_row, tenant_of

ThreadLister = Callable[..., Any]


def _key() -> str:
    return "sk-test-thread-list-" + secrets.token_hex(8)


@pytest.fixture
async def raw_for(
    engine_app: FastAPI, spec_violations: SpecViolations
) -> AsyncIterator[Callable[[str], httpx2.AsyncClient]]:
    """`raw_for(api_key)`: a raw HTTP client on the shared engine calling as that key."""
    made: list[httpx2.AsyncClient] = []

    def make(api_key: str) -> httpx2.AsyncClient:
        made.append(
            asgi_http_client(
                engine_app, spec_violations, headers={"Authorization": f"Bearer {api_key}"}
            )
        )
        return made[-1]

    yield make
    for raw in made:
        await raw.aclose()


async def _list(raw: httpx2.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await raw.get("/v1/x-threads", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


async def test_a_new_tenant_has_no_threads(
    raw_for: Callable[[str], httpx2.AsyncClient],
) -> None:
    page = await _list(raw_for(_key()))
    assert page == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


async def test_threads_newest_first_with_their_last_message_and_run(
    client_for: Callable[[str], openai.AsyncOpenAI],
    raw_for: Callable[[str], httpx2.AsyncClient],
    engine_app: FastAPI,
) -> None:
    key = _key()
    sdk = client_for(key)
    empty = await sdk.beta.threads.create(metadata={"topic": "empty"})
    long_text = "é" + "x" * 500
    talked = await sdk.beta.threads.create(messages=[{"role": "user", "content": "first"}])
    await sdk.beta.threads.messages.create(talked.id, role="user", content=long_text)
    run_id = await insert_run_row(
        engine_app, tenant_of(engine_app, key), talked.id, "requires_action", "asst_listed"
    )
    answered = await sdk.beta.threads.create()
    await add_run_message(engine_app, tenant_of(engine_app, key), answered.id, run_id, "an answer")

    page = await _list(raw_for(key))

    assert _ids(page) == [answered.id, talked.id, empty.id]
    by_id = {item["id"]: item for item in page["data"]}
    assert by_id[empty.id]["metadata"] == {"topic": "empty"}
    assert by_id[empty.id]["object"] == "thread"
    assert by_id[empty.id]["last_message"] is None
    assert by_id[empty.id]["last_run"] is None
    last = by_id[talked.id]["last_message"]
    assert last["role"] == "user"
    assert last["preview"] == long_text[:PREVIEW_CHARS]  # cut in characters, not bytes
    newest = (await sdk.beta.threads.messages.list(talked.id, limit=1)).data[0]
    assert (last["id"], last["created_at"]) == (newest.id, newest.created_at)
    assert by_id[talked.id]["last_run"]["id"] == run_id
    assert by_id[talked.id]["last_run"]["assistant_id"] == "asst_listed"
    assert by_id[talked.id]["last_run"]["status"] == "requires_action"
    answer = by_id[answered.id]["last_message"]
    assert (answer["role"], answer["preview"]) == ("assistant", "an answer")


async def test_a_message_without_text_first_has_no_preview(
    client_for: Callable[[str], openai.AsyncOpenAI],
    raw_for: Callable[[str], httpx2.AsyncClient],
) -> None:
    key = _key()
    sdk = client_for(key)
    thread = await sdk.beta.threads.create()
    await sdk.beta.threads.messages.create(
        thread.id,
        role="user",
        content=[
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "text", "text": "after the image"},
        ],
    )
    (item,) = (await _list(raw_for(key)))["data"]
    assert item["last_message"]["preview"] is None


async def test_pages_walk_with_after_and_before(
    client_for: Callable[[str], openai.AsyncOpenAI],
    raw_for: Callable[[str], httpx2.AsyncClient],
) -> None:
    key = _key()
    sdk = client_for(key)
    ids = [(await sdk.beta.threads.create()).id for _ in range(5)]
    raw = raw_for(key)

    first = await _list(raw, limit=2)
    assert _ids(first) == [ids[4], ids[3]] and first["has_more"]
    assert (first["first_id"], first["last_id"]) == (ids[4], ids[3])
    second = await _list(raw, limit=2, after=first["last_id"])
    assert _ids(second) == [ids[2], ids[1]] and second["has_more"]
    third = await _list(raw, limit=2, after=second["last_id"])
    assert _ids(third) == [ids[0]] and not third["has_more"]
    assert _ids(await _list(raw, order="asc", limit=3)) == ids[:3]
    back = await _list(raw, limit=2, before=ids[1])
    assert _ids(back) == [ids[3], ids[2]] and back["has_more"]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"order": "newest"}, "order"),
        ({"after": "thread_nowhere"}, "after"),
        ({"before": "no/such id"}, "before"),
    ],
)
async def test_bad_paging_is_one_clear_error_naming_the_parameter(
    raw_for: Callable[[str], httpx2.AsyncClient], params: dict[str, Any], param: str
) -> None:
    response = await raw_for(_key()).get("/v1/x-threads", params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param
    assert param in error["message"]


async def test_another_tenants_threads_never_appear(
    client_for: Callable[[str], openai.AsyncOpenAI],
    raw_for: Callable[[str], httpx2.AsyncClient],
) -> None:
    alice, bob = _key(), _key()
    mine = await client_for(alice).beta.threads.create(
        messages=[{"role": "user", "content": "alice's secret"}]
    )
    bobs = await client_for(bob).beta.threads.create()

    assert _ids(await _list(raw_for(alice))) == [mine.id]
    assert _ids(await _list(raw_for(bob))) == [bobs.id]
    # Alice's thread is no cursor in Bob's list: it answers as an unknown ID would.
    response = await raw_for(bob).get("/v1/x-threads", params={"after": mine.id})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"
    assert "alice" not in response.text


async def test_deleted_threads_leave_the_list(
    client_for: Callable[[str], openai.AsyncOpenAI],
    raw_for: Callable[[str], httpx2.AsyncClient],
) -> None:
    key = _key()
    sdk = client_for(key)
    kept = await sdk.beta.threads.create()
    gone = await sdk.beta.threads.create()
    await sdk.beta.threads.delete(gone.id)
    assert _ids(await _list(raw_for(key))) == [kept.id]
