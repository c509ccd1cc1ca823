"""Threads through the official SDK: create (with messages), retrieve, modify, delete."""

from __future__ import annotations

import time

import openai
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_API_KEY
from tests.support.engine import dump_tables

from .helpers import insert_run_row, insert_run_step_row, tenant_of


async def test_create_empty_thread(client: openai.AsyncOpenAI) -> None:
    before = int(time.time())
    thread = await client.beta.threads.create()
    assert thread.id.startswith("thread_") and len(thread.id) == len("thread_") + 24
    assert thread.object == "thread"
    assert before <= thread.created_at <= int(time.time())
    assert thread.metadata == {}
    assert thread.tool_resources is not None and thread.tool_resources.to_dict() == {}
    assert (await client.beta.threads.messages.list(thread.id)).data == []


async def test_create_thread_with_messages_keeps_their_order(client: openai.AsyncOpenAI) -> None:
    image = (await client.files.create(file=("a.png", b"png"), purpose="vision")).id
    attached = (await client.files.create(file=("n.txt", b"notes"), purpose="assistants")).id
    data = (await client.files.create(file=("d.csv", b"a,b"), purpose="assistants")).id
    thread = await client.beta.threads.create(
        messages=[
            {"role": "user", "content": "first", "metadata": {"n": "1"}},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "second"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "image_file", "image_file": {"file_id": image}}],
                "attachments": [{"file_id": attached, "tools": [{"type": "file_search"}]}],
            },
        ],
        metadata={"topic": "order"},
        tool_resources={"code_interpreter": {"file_ids": [data]}},
    )
    assert thread.metadata == {"topic": "order"}
    assert thread.tool_resources is not None
    assert thread.tool_resources.code_interpreter is not None
    assert thread.tool_resources.code_interpreter.file_ids == [data]
    # The file attached for file_search joined the thread's own store (ingested before the
    # test ends: the shared engine's other tests compare table dumps).
    assert thread.tool_resources.file_search is not None
    (store_id,) = thread.tool_resources.file_search.vector_store_ids or []
    vs_file = await client.vector_stores.files.poll(
        attached, vector_store_id=store_id, poll_interval_ms=100, max_wait_seconds=120
    )
    assert vs_file.status == "completed"

    listed = await client.beta.threads.messages.list(thread.id, order="asc")
    first, second, third = listed.data
    assert [m.role for m in listed.data] == ["user", "assistant", "user"]
    assert all(m.thread_id == thread.id and m.created_at == thread.created_at for m in listed.data)
    assert first.content[0].to_dict() == {
        "type": "text",
        "text": {"value": "first", "annotations": []},
    }
    assert first.metadata == {"n": "1"}
    assert [part.type for part in second.content] == ["text", "image_url"]
    assert third.content[0].to_dict() == {"type": "image_file", "image_file": {"file_id": image}}
    assert third.attachments is not None
    attachment = third.attachments[0].to_dict()
    assert attachment == {"file_id": attached, "tools": [{"type": "file_search"}]}


async def test_retrieve_modify_thread(client: openai.AsyncOpenAI) -> None:
    thread = await client.beta.threads.create(metadata={"a": "1"})
    assert (await client.beta.threads.retrieve(thread.id)) == thread

    store = await client.vector_stores.create()
    modified = await client.beta.threads.update(
        thread.id,
        metadata={"b": "2"},
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    assert modified.id == thread.id and modified.created_at == thread.created_at
    assert modified.metadata == {"b": "2"}  # replaced, not merged (as OpenAI)
    assert modified.tool_resources is not None and modified.tool_resources.file_search is not None
    assert modified.tool_resources.file_search.vector_store_ids == [store.id]
    assert await client.beta.threads.retrieve(thread.id) == modified

    untouched = await client.beta.threads.update(thread.id)
    assert untouched == modified
    cleared = await client.beta.threads.update(thread.id, extra_body={"metadata": None})
    assert cleared.metadata == {} and cleared.tool_resources == modified.tool_resources


async def test_delete_thread_cascades_to_messages_runs_and_steps(
    client: openai.AsyncOpenAI, engine_app: FastAPI
) -> None:
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "bye"}])
    keep = await client.beta.threads.create(messages=[{"role": "user", "content": "stay"}])
    tenant = tenant_of(engine_app, TEST_API_KEY)
    run_id = await insert_run_row(engine_app, tenant, thread.id, "completed")
    await insert_run_step_row(engine_app, tenant, thread.id, run_id)
    kept_run = await insert_run_row(engine_app, tenant, keep.id, "completed")
    await insert_run_step_row(engine_app, tenant, keep.id, kept_run)

    deleted = await client.beta.threads.delete(thread.id)
    assert deleted.to_dict() == {"id": thread.id, "object": "thread.deleted", "deleted": True}

    dump = await dump_tables(engine_app)
    for table in ("threads", "messages", "runs", "run_steps"):
        rows = dump[table]
        owner = "id" if table == "threads" else "thread_id"
        assert not [row for row in rows if row[owner] == thread.id], table
        assert [row for row in rows if row[owner] == keep.id], table
    with pytest.raises(openai.NotFoundError, match=f"No thread found with id '{thread.id}'"):
        await client.beta.threads.retrieve(thread.id)
    with pytest.raises(openai.NotFoundError):
        await client.beta.threads.delete(thread.id)
