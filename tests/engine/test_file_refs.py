"""File IDs in requests must name the caller's files: code_interpreter.file_ids (at most 20),
message attachments and image_file parts. Unknown IDs are refused naming the param, nothing is
written; deleting a file detaches it from assistants and threads."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest


async def refused(call: object, param: str) -> str:
    with pytest.raises(openai.BadRequestError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.body["param"] == param  # type: ignore[index]
    return caught.value.message


async def test_references_must_name_the_callers_files(
    client_for: Callable[[str], openai.AsyncOpenAI],
) -> None:
    alice, bob = client_for("sk-test-refs-alice"), client_for("sk-test-refs-bob")
    theirs = (await bob.files.create(file=("b.txt", b"bob"), purpose="assistants")).id
    mine = (await alice.files.create(file=("a.txt", b"alice"), purpose="assistants")).id
    assistants_before = len((await alice.beta.assistants.list()).data)

    message = await refused(
        alice.beta.assistants.create(
            model="m", tool_resources={"code_interpreter": {"file_ids": [mine, theirs]}}
        ),
        "tool_resources.code_interpreter.file_ids[1]",
    )
    assert theirs in message  # another tenant's file answers exactly as a missing one
    message = await refused(
        alice.beta.assistants.create(
            model="m", tool_resources={"code_interpreter": {"file_ids": ["notafile"]}}
        ),
        "tool_resources.code_interpreter.file_ids[0]",
    )
    assert "Expected an ID that begins with 'file'" in message
    await refused(
        alice.beta.assistants.create(
            model="m", tool_resources={"code_interpreter": {"file_ids": [mine] * 21}}
        ),
        "tool_resources.code_interpreter.file_ids",
    )
    assert len((await alice.beta.assistants.list()).data) == assistants_before

    assistant = await alice.beta.assistants.create(
        model="m", tool_resources={"code_interpreter": {"file_ids": [mine]}}
    )
    await refused(
        alice.beta.assistants.update(
            assistant.id, tool_resources={"code_interpreter": {"file_ids": [theirs]}}
        ),
        "tool_resources.code_interpreter.file_ids[0]",
    )

    await refused(
        alice.beta.threads.create(
            messages=[
                {"role": "user", "content": "x"},
                {"role": "user", "content": "y", "attachments": [{"file_id": theirs, "tools": []}]},
            ]
        ),
        "messages[1].attachments[0].file_id",
    )
    await refused(
        alice.beta.threads.create(tool_resources={"code_interpreter": {"file_ids": [theirs]}}),
        "tool_resources.code_interpreter.file_ids[0]",
    )
    thread = await alice.beta.threads.create(
        tool_resources={"code_interpreter": {"file_ids": [mine]}}
    )
    await refused(
        alice.beta.threads.update(
            thread.id, tool_resources={"code_interpreter": {"file_ids": ["file-missing"]}}
        ),
        "tool_resources.code_interpreter.file_ids[0]",
    )
    await refused(
        alice.beta.threads.messages.create(
            thread.id,
            role="user",
            content=[{"type": "image_file", "image_file": {"file_id": theirs}}],
        ),
        "content[0].image_file.file_id",
    )
    await refused(
        alice.beta.threads.messages.create(
            thread.id,
            role="user",
            content="x",
            attachments=[{"file_id": "file-gone", "tools": [{"type": "code_interpreter"}]}],
        ),
        "attachments[0].file_id",
    )
    await refused(
        alice.beta.threads.runs.create(
            thread.id,
            assistant_id=assistant.id,
            additional_messages=[
                {"role": "user", "content": "x", "attachments": [{"file_id": theirs, "tools": []}]}
            ],
        ),
        "additional_messages[0].attachments[0].file_id",
    )
    await refused(
        alice.beta.threads.create_and_run(
            assistant_id=assistant.id,
            thread={
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_file", "image_file": {"file_id": theirs}}],
                    }
                ]
            },
        ),
        "thread.messages[0].content[0].image_file.file_id",
    )
    assert (await alice.beta.threads.messages.list(thread.id)).data == []
    assert (await alice.beta.threads.runs.list(thread.id)).data == []


async def test_deleting_a_file_detaches_it(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    keep = (await client.files.create(file=("k.txt", b"k"), purpose="assistants")).id
    gone = (await client.files.create(file=("g.txt", b"g"), purpose="assistants")).id
    resources = {"code_interpreter": {"file_ids": [keep, gone]}}
    assistant = await client.beta.assistants.create(model="m", tool_resources=resources)
    thread = await client.beta.threads.create(tool_resources=resources)
    other = await client.beta.assistants.create(model="m", name=f"mentions {gone} by name only")

    await client.files.delete(gone)

    fetched = await client.beta.assistants.retrieve(assistant.id)
    assert fetched.tool_resources.code_interpreter.file_ids == [keep]  # type: ignore[union-attr]
    fetched_thread = await client.beta.threads.retrieve(thread.id)
    assert fetched_thread.tool_resources.code_interpreter.file_ids == [keep]  # type: ignore[union-attr]
    assert (await client.beta.assistants.retrieve(other.id)).name == f"mentions {gone} by name only"
