"""Once over a real socket: the SDK against uvicorn on loopback, every response checked."""

from __future__ import annotations

from functools import partial

import httpx2
import openai
import pytest

from tests.support.engine import SpecViolations

from .helpers import page_ids, walk


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_every_operation_over_a_socket(
    live_engine_url: str, spec_violations: SpecViolations
) -> None:
    http = httpx2.AsyncClient(event_hooks={"response": [spec_violations.hook]}, timeout=30)
    async with openai.AsyncOpenAI(
        api_key="sk-test-live-socket", base_url=live_engine_url, max_retries=0, http_client=http
    ) as client:
        assistant = await client.beta.assistants.create(model="gpt-4o", name="live")
        assert (await client.beta.assistants.update(assistant.id, name="live 2")).name == "live 2"
        assert page_ids(await client.beta.assistants.list()) == [assistant.id]

        thread = await client.beta.threads.create(
            messages=[{"role": "user", "content": f"m{i}"} for i in range(5)]
        )
        created = await client.beta.threads.messages.create(thread.id, role="user", content="m5")
        list_fn = partial(client.beta.threads.messages.list, thread.id)
        ids = await walk(list_fn, order="asc", limit=2, cursor="after")
        assert len(ids) == 6 and ids[-1] == created.id
        backward = await walk(list_fn, order="asc", limit=2, cursor="before", start=ids[-1])
        assert backward == ids[:-1]
        assert (await list_fn(run_id="run_none")).data == []

        modified = await client.beta.threads.messages.update(
            created.id, thread_id=thread.id, metadata={"seen": "yes"}
        )
        assert modified.metadata == {"seen": "yes"}
        fetched = await client.beta.threads.messages.retrieve(created.id, thread_id=thread.id)
        assert fetched == modified
        assert (await client.beta.threads.messages.delete(created.id, thread_id=thread.id)).deleted
        assert (await client.beta.threads.update(thread.id, metadata={"k": "v"})).metadata == {
            "k": "v"
        }
        assert (await client.beta.threads.retrieve(thread.id)).id == thread.id
        assert (await client.beta.threads.delete(thread.id)).deleted
        assert (await client.beta.assistants.delete(assistant.id)).deleted
        with pytest.raises(openai.NotFoundError):
            await client.beta.threads.retrieve(thread.id)
    assert spec_violations.checked >= 15
