"""Tenancy: another key's objects answer exactly as missing ones; no key = the default tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest
from fastapi import FastAPI

from tests.support.engine import SpecViolations, asgi_http_client, dump_tables

from .helpers import page_ids

ALICE = "sk-test-tenancy-alice-3f9c"
BOB = "sk-test-tenancy-bob-8e1d"


async def _error(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(openai.APIStatusError) as refused:
        await call
    return refused.value.status_code, refused.value.body  # type: ignore[return-value]


async def test_other_tenants_ids_answer_as_missing(
    client_for: Callable[[str], openai.AsyncOpenAI], engine_app: FastAPI
) -> None:
    alice, bob = client_for(ALICE), client_for(BOB)
    assistant = await alice.beta.assistants.create(model="gpt-4o")
    thread = await alice.beta.threads.create(messages=[{"role": "user", "content": "mine"}])
    message_id = page_ids(await alice.beta.threads.messages.list(thread.id))[0]
    before = await dump_tables(engine_app)

    def missing(kind: str, object_id: str) -> tuple[int, dict[str, Any]]:
        return 404, {
            "message": f"No {kind} found with id '{object_id}'.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }

    a, t, m = assistant.id, thread.id, message_id
    attempts = [
        (bob.beta.assistants.retrieve(a), ("assistant", a)),
        (bob.beta.assistants.update(a, name="x"), ("assistant", a)),
        (bob.beta.assistants.delete(a), ("assistant", a)),
        (bob.beta.threads.retrieve(t), ("thread", t)),
        (bob.beta.threads.update(t, metadata={"x": "y"}), ("thread", t)),
        (bob.beta.threads.delete(t), ("thread", t)),
        (bob.beta.threads.messages.list(t), ("thread", t)),
        (bob.beta.threads.messages.create(t, role="user", content="hi"), ("thread", t)),
        (bob.beta.threads.messages.retrieve(m, thread_id=t), ("thread", t)),
        (bob.beta.threads.messages.update(m, thread_id=t, metadata={}), ("thread", t)),
        (bob.beta.threads.messages.delete(m, thread_id=t), ("thread", t)),
    ]
    for call, (kind, object_id) in attempts:
        assert await _error(call) == missing(kind, object_id)
    # ...exactly as for IDs that exist nowhere.
    assert await _error(bob.beta.threads.retrieve("thread_nope")) == missing(
        "thread", "thread_nope"
    )

    bob_thread = await bob.beta.threads.create()
    for call in (
        bob.beta.threads.messages.retrieve(m, thread_id=bob_thread.id),
        bob.beta.threads.messages.delete(m, thread_id=bob_thread.id),
    ):
        assert await _error(call) == missing("message", m)
    with pytest.raises(openai.BadRequestError, match="Invalid 'after'"):
        await bob.beta.assistants.list(after=a)
    assert a not in page_ids(await bob.beta.assistants.list(limit=100))

    after = await dump_tables(engine_app)
    after["threads"] = [row for row in after["threads"] if row["id"] != bob_thread.id]
    assert after == before


async def test_no_key_is_the_default_tenant(
    engine_app: FastAPI, spec_violations: SpecViolations, client_for: Any
) -> None:
    async with asgi_http_client(engine_app, spec_violations) as anonymous:
        created = (await anonymous.post("/v1/assistants", json={"model": "gpt-4o"})).json()
        # Another keyless caller is the same tenant; a keyed caller is not.
        async with asgi_http_client(engine_app, spec_violations) as another:
            response = await another.get(f"/v1/assistants/{created['id']}")
            assert response.status_code == 200 and response.json() == created
    with pytest.raises(openai.NotFoundError):
        await client_for(ALICE).beta.assistants.retrieve(created["id"])


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", ""])
async def test_unusable_credentials_are_the_default_tenant(
    engine_app: FastAPI, spec_violations: SpecViolations, header: str
) -> None:
    async with asgi_http_client(engine_app, spec_violations) as anonymous:
        created = (await anonymous.post("/v1/threads")).json()
        response = await anonymous.get(
            f"/v1/threads/{created['id']}", headers={"Authorization": header}
        )
        assert response.status_code == 200


async def test_the_same_key_is_the_same_tenant_across_clients(
    engine_app: FastAPI, spec_violations: SpecViolations
) -> None:
    auth = {"Authorization": f"Bearer {ALICE}"}
    async with asgi_http_client(engine_app, spec_violations, headers=auth) as one:
        thread = (await one.post("/v1/threads")).json()
    async with asgi_http_client(engine_app, spec_violations, headers=auth) as two:
        response = await two.get(f"/v1/threads/{thread['id']}")
    assert response.status_code == 200 and response.json() == thread
