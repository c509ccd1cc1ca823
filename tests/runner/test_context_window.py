"""Context-aware turns (issue 23): the engine learns the model's context window (the setting, or
what llama.cpp, llama-cpp-python or Ollama say), fits each request into it with room for the
answer (oldest thread messages dropped as truncation_strategy allows, file_search results cut),
and a prompt that cannot fit - or a provider error naming the window - fails the run saying
the prompt's and the window's token counts and what to change."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from openai_assistant_mcp.engine.runs.fit import message_tokens, tools_tokens
from tests.runner.conftest import Engine
from tests.support.scripted_provider import Error, Malformed, ScriptedProvider, SearchFiles, Text

WORDS = "the quick brown fox jumps over the lazy dog near the river bank " * 15  # ~180 tokens


def _request_tokens(body: dict[str, Any]) -> int:
    return sum(message_tokens(m) for m in body["messages"]) + tools_tokens(body)


async def _long_thread(client: openai.AsyncOpenAI, count: int) -> str:
    messages: list[Any] = [
        {"role": "user", "content": f"message {i}: {WORDS}"} for i in range(count)
    ]
    messages.append({"role": "user", "content": "And the newest question?"})
    return (await client.beta.threads.create(messages=messages)).id


@pytest.mark.parametrize(
    "server",
    ["llama.cpp /props", "llama-cpp-python /v1/models", "ollama /api/show", "setting"],
)
async def test_history_is_truncated_to_the_window_the_server_reports(
    engine: Engine, provider: ScriptedProvider, server: str
) -> None:
    settings = {}
    if server == "llama.cpp /props":
        provider.props = {"default_generation_settings": {"n_ctx": 2048}}
    elif server == "llama-cpp-python /v1/models":
        provider.models = [{"id": "qwen", "object": "model", "meta": {"n_ctx": 2048}}]
    elif server == "ollama /api/show":
        provider.ollama_show = {"parameters": "temperature 0.7\nnum_ctx 2048", "model_info": {}}
    else:
        settings["PROVIDER_CONTEXT_TOKENS"] = "2048"
    client = await engine(**settings)
    assistant = await client.beta.assistants.create(model="qwen", instructions="Be brief.")
    for _ in range(2):
        thread_id = await _long_thread(client, 30)  # ~6,000 tokens
        run = await client.beta.threads.runs.create_and_poll(
            thread_id=thread_id, assistant_id=assistant.id
        )
        assert run.status == "completed", run.last_error
        sent = provider.requests[-1].body
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
        assert sent["messages"][-1]["content"] == "And the newest question?"
        assert 3 < len(sent["messages"]) < 31
        assert _request_tokens(sent) <= 2048 - 512  # a quarter of the window kept for the answer
    # Asked once per provider and model, then kept.
    asked = {"setting": 0, "llama.cpp /props": 1, "llama-cpp-python /v1/models": 2}
    assert len(provider.info_requests) == asked.get(server, 3)


async def test_last_messages_that_cannot_fit_fail_naming_both_counts(
    engine: Engine, provider: ScriptedProvider
) -> None:
    client = await engine(PROVIDER_CONTEXT_TOKENS="2048")
    assistant = await client.beta.assistants.create(model="qwen")
    thread_id = await _long_thread(client, 30)
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread_id,
        assistant_id=assistant.id,
        truncation_strategy={"type": "last_messages", "last_messages": 20},
    )
    assert run.status == "failed"
    assert run.last_error is not None and run.last_error.code == "invalid_prompt"
    message = run.last_error.message
    assert "but the model's context window is 2048 tokens (512 kept for the answer)" in message
    assert "PROVIDER_CONTEXT_TOKENS" in message and "truncation_strategy" in message
    assert provider.requests == []  # never sent


@pytest.mark.parametrize(
    "reply",
    [
        # llama-cpp-python breaking its stream off (issue 23)
        Malformed(
            '{"error": {"message": "Requested tokens (16545) exceed context window of 2048"}}'
        ),
        # llama.cpp's llama-server
        Error(
            400,
            "the request exceeds the available context size, try increasing it",
            type="exceed_context_size_error",
        ),
        # OpenAI, vLLM
        Error(
            400,
            "This model's maximum context length is 2048 tokens. However, you requested 16545 "
            "tokens (16289 in the messages, 256 in the completion).",
        ),
    ],
    ids=["llama-cpp-python-stream", "llama.cpp", "openai"],
)
async def test_a_provider_error_naming_the_window_is_said_plainly(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, reply: Any
) -> None:
    provider.script(reply)
    assistant = await oai.beta.assistants.create(model="qwen")
    thread = await oai.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert run.status == "failed"
    assert run.last_error is not None and run.last_error.code == "invalid_prompt"
    if isinstance(reply, Malformed) or "maximum" in reply.message:
        assert "The prompt needs 16545 tokens but the model's context window is 2048 tokens" in (
            run.last_error.message
        )
    else:
        assert "exceeds the model's context window" in run.last_error.message
    assert "--ctx-size" in run.last_error.message


async def test_file_search_results_are_cut_to_the_room_left(
    engine: Engine, provider: ScriptedProvider
) -> None:
    client = await engine(PROVIDER_CONTEXT_TOKENS="4096", LOCAL_EMBEDDINGS="false")
    ids = [
        (
            await client.files.create(
                file=(f"doc{i}.txt", f"refund {i}. {WORDS * 3}".encode()), purpose="assistants"
            )
        ).id
        for i in range(20)
    ]
    store = await client.vector_stores.create(name="kb", file_ids=ids)
    for _ in range(1200):
        if store.status != "in_progress":
            break
        await asyncio.sleep(0.1)
        store = await client.vector_stores.retrieve(store.id)
    assert store.status == "completed"
    assistant = await client.beta.assistants.create(
        model="qwen",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Refunds?"}])
    provider.script(SearchFiles("refund"), Text("Refunds are described."))
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert run.status == "completed", run.last_error
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    results = steps.data[0].step_details.tool_calls[0].file_search.results  # type: ignore[union-attr]
    assert 1 <= len(results) < 20  # 20 documents of ~550 tokens match; a few fit
    assert _request_tokens(provider.requests[1].body) <= 4096 - 1024
