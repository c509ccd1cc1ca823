"""Messages through the official SDK: create, list (with run_id), retrieve, modify, delete."""

from __future__ import annotations

import openai
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_API_KEY
from tests.support.engine import dump_tables

from .helpers import add_run_message, insert_run_row, page_ids, tenant_of


async def test_create_message_from_string(client: openai.AsyncOpenAI) -> None:
    thread = await client.beta.threads.create()
    message = await client.beta.threads.messages.create(
        thread.id, role="user", content="Hello there", metadata={"k": "v"}
    )
    assert message.id.startswith("msg_") and len(message.id) == len("msg_") + 24
    assert message.object == "thread.message"
    assert message.thread_id == thread.id
    assert message.role == "user" and message.status == "completed"
    assert message.assistant_id is None and message.run_id is None
    assert message.attachments == [] and message.metadata == {"k": "v"}
    assert [part.to_dict() for part in message.content] == [
        {"type": "text", "text": {"value": "Hello there", "annotations": []}}
    ]
    assert message.completed_at == message.created_at
    assert message.incomplete_at is None and message.incomplete_details is None
    assert await client.beta.threads.messages.retrieve(message.id, thread_id=thread.id) == message


async def test_create_message_from_parts(client: openai.AsyncOpenAI) -> None:
    thread = await client.beta.threads.create()
    image = (await client.files.create(file=("a.png", b"png"), purpose="vision")).id
    attached = (await client.files.create(file=("x.csv", b"a,b"), purpose="assistants")).id
    message = await client.beta.threads.messages.create(
        thread.id,
        role="assistant",
        content=[
            {"type": "text", "text": "look:"},
            {"type": "image_file", "image_file": {"file_id": image, "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ],
        attachments=[{"file_id": attached, "tools": [{"type": "code_interpreter"}]}],
    )
    assert message.role == "assistant"
    assert [part.to_dict() for part in message.content] == [
        {"type": "text", "text": {"value": "look:", "annotations": []}},
        {"type": "image_file", "image_file": {"file_id": image, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    assert message.attachments is not None
    assert message.attachments[0].to_dict() == {
        "file_id": attached,
        "tools": [{"type": "code_interpreter"}],
    }


async def test_modify_message_changes_metadata_only(client: openai.AsyncOpenAI) -> None:
    thread = await client.beta.threads.create()
    message = await client.beta.threads.messages.create(
        thread.id, role="user", content="x", metadata={"a": "1"}
    )
    modified = await client.beta.threads.messages.update(
        message.id, thread_id=thread.id, metadata={"b": "2"}
    )
    assert modified.metadata == {"b": "2"}
    assert modified.model_dump(exclude={"metadata"}) == message.model_dump(exclude={"metadata"})
    again = await client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)
    assert again == modified
    with pytest.raises(openai.BadRequestError, match="Unrecognized request argument"):
        await client.beta.threads.messages.update(
            message.id, thread_id=thread.id, extra_body={"content": "changed"}
        )


async def test_delete_message(client: openai.AsyncOpenAI) -> None:
    thread = await client.beta.threads.create()
    gone = await client.beta.threads.messages.create(thread.id, role="user", content="gone")
    kept = await client.beta.threads.messages.create(thread.id, role="user", content="kept")
    deleted = await client.beta.threads.messages.delete(gone.id, thread_id=thread.id)
    assert deleted.to_dict() == {"id": gone.id, "object": "thread.message.deleted", "deleted": True}
    assert page_ids(await client.beta.threads.messages.list(thread.id)) == [kept.id]
    with pytest.raises(openai.NotFoundError, match=f"No message found with id '{gone.id}'"):
        await client.beta.threads.messages.retrieve(gone.id, thread_id=thread.id)
    with pytest.raises(openai.NotFoundError):
        await client.beta.threads.messages.delete(gone.id, thread_id=thread.id)


async def test_message_ids_are_scoped_to_their_thread(client: openai.AsyncOpenAI) -> None:
    one = await client.beta.threads.create(messages=[{"role": "user", "content": "in one"}])
    two = await client.beta.threads.create()
    message_id = page_ids(await client.beta.threads.messages.list(one.id))[0]
    for call in (
        client.beta.threads.messages.retrieve(message_id, thread_id=two.id),
        client.beta.threads.messages.update(message_id, thread_id=two.id, metadata={}),
        client.beta.threads.messages.delete(message_id, thread_id=two.id),
    ):
        with pytest.raises(openai.NotFoundError, match=f"No message found with id '{message_id}'"):
            await call
    assert page_ids(await client.beta.threads.messages.list(one.id)) == [message_id]


async def test_list_messages_filters_by_run_id(
    client: openai.AsyncOpenAI, engine_app: FastAPI
) -> None:
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "q"}])
    tenant = tenant_of(engine_app, TEST_API_KEY)
    run_a = await insert_run_row(engine_app, tenant, thread.id, "completed")
    from_a = [
        await add_run_message(engine_app, tenant, thread.id, run_a, f"a{i}") for i in range(3)
    ]
    run_b = await insert_run_row(engine_app, tenant, thread.id, "completed")
    from_b = await add_run_message(engine_app, tenant, thread.id, run_b, "b")

    listed = await client.beta.threads.messages.list(thread.id, run_id=run_a, order="asc")
    assert page_ids(listed) == from_a
    assert all(m.run_id == run_a and m.assistant_id == "asst_x" for m in listed.data)
    page = await client.beta.threads.messages.list(thread.id, run_id=run_a, limit=2)
    assert page_ids(page) == from_a[:0:-1] and page.has_more
    rest = await client.beta.threads.messages.list(
        thread.id, run_id=run_a, limit=2, after=from_a[1]
    )
    assert page_ids(rest) == [from_a[0]] and not rest.has_more
    assert page_ids(await client.beta.threads.messages.list(thread.id, run_id=run_b)) == [from_b]
    assert (await client.beta.threads.messages.list(thread.id, run_id="run_none")).data == []
    assert len((await client.beta.threads.messages.list(thread.id)).data) == 5


@pytest.mark.parametrize("status", ["queued", "in_progress", "requires_action", "cancelling"])
async def test_no_message_while_a_run_is_active(
    client: openai.AsyncOpenAI, engine_app: FastAPI, status: str
) -> None:
    thread = await client.beta.threads.create()
    tenant = tenant_of(engine_app, TEST_API_KEY)
    run_id = await insert_run_row(engine_app, tenant, thread.id, status)
    before = await dump_tables(engine_app)
    with pytest.raises(openai.BadRequestError) as refused:
        await client.beta.threads.messages.create(thread.id, role="user", content="wait")
    assert refused.value.status_code == 400
    assert refused.value.body == {
        "message": f"Can't add messages to {thread.id} while a run {run_id} is active.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert await dump_tables(engine_app) == before


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled", "expired", "incomplete"])
async def test_messages_allowed_once_the_run_has_ended(
    client: openai.AsyncOpenAI, engine_app: FastAPI, status: str
) -> None:
    thread = await client.beta.threads.create()
    await insert_run_row(engine_app, tenant_of(engine_app, TEST_API_KEY), thread.id, status)
    message = await client.beta.threads.messages.create(thread.id, role="user", content="go")
    assert message.thread_id == thread.id


async def test_sdk_auto_pagination_reads_everything(client: openai.AsyncOpenAI) -> None:
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": str(i)} for i in range(7)]
    )
    texts = [
        m.content[0].text.value  # type: ignore[union-attr]
        async for m in client.beta.threads.messages.list(thread.id, limit=3, order="asc")
    ]
    assert texts == [str(i) for i in range(7)]
