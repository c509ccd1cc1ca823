"""Assistants through the official SDK: create, retrieve, modify, delete, list."""

from __future__ import annotations

import openai
import pytest

from .helpers import page_ids


async def test_assistant_lifecycle(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    created = await client.beta.assistants.create(
        model="gpt-4o",
        name="Math tutor",
        description="helps",
        instructions="Be brief.",
        tools=[
            {"type": "code_interpreter"},
            {
                "type": "function",
                "function": {
                    "name": "add",
                    "description": "adds",
                    "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
                },
            },
        ],
        metadata={"owner": "alice"},
        temperature=0.5,
        top_p=0.9,
        response_format={"type": "json_object"},
    )
    assert created.id.startswith("asst_") and created.object == "assistant"
    assert (created.name, created.model, created.instructions) == (
        "Math tutor",
        "gpt-4o",
        "Be brief.",
    )
    assert [tool.type for tool in created.tools] == ["code_interpreter", "function"]
    assert (created.temperature, created.top_p) == (0.5, 0.9)
    assert created.response_format is not None
    assert created.response_format.to_dict() == {"type": "json_object"}  # type: ignore[union-attr]
    assert await client.beta.assistants.retrieve(created.id) == created

    modified = await client.beta.assistants.update(
        created.id, name="Tutor", tools=[], metadata={"owner": "bob"}
    )
    assert (modified.name, modified.tools, modified.metadata) == ("Tutor", [], {"owner": "bob"})
    assert modified.instructions == "Be brief." and modified.created_at == created.created_at
    assert page_ids(await client.beta.assistants.list()) == [created.id]

    deleted = await client.beta.assistants.delete(created.id)
    assert deleted.to_dict() == {"id": created.id, "object": "assistant.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError, match=f"No assistant found with id '{created.id}'"):
        await client.beta.assistants.retrieve(created.id)
    assert (await client.beta.assistants.list()).data == []


async def test_assistant_defaults(client: openai.AsyncOpenAI) -> None:
    created = await client.beta.assistants.create(model="gpt-4o-mini")
    assert created.name is None and created.description is None and created.instructions is None
    assert created.tools == [] and created.metadata == {}
    assert created.response_format == "auto"
