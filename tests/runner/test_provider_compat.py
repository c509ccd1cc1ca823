"""Provider compatibility (engine/providers/compat.py): a request is adapted only when
PROVIDER_COMPAT says so or after the provider refused it naming the cause, and then stays adapted
for that provider; other refusals stand. The scripted provider plays the servers' refusals."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from pydantic import ValidationError

from openai_assistant_mcp.engine.providers.compat import RepeatedCallHeaders
from openai_assistant_mcp.engine.settings import EngineSettings
from tests.runner.conftest import Engine
from tests.support.scripted_provider import Call, Error, ScriptedProvider, Text, ToolCalls

# llama-cpp-python's answer to an assistant message with `content: null` (HTTP 500).
LLAMA_CPP_NULL_CONTENT = (
    "1 validation error for CreateChatCompletionRequest\nmessages.2.typed-dict.content\n"
    "  Input should be a valid string [type=string_type, input_value=None, input_type=NoneType]"
)
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}


async def _tool_call_round(client: openai.AsyncOpenAI) -> openai.types.beta.threads.Run:
    """A run that calls get_weather, answered; returns the run after submit_tool_outputs."""
    assistant = await client.beta.assistants.create(model="m", tools=[WEATHER])  # type: ignore[list-item]
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert run.status == "requires_action"
    return await client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": "call_1", "output": "sunny"}],
    )


def _assistant_turn(request_body: dict[str, object]) -> dict[str, object]:
    messages = request_body["messages"]
    assert isinstance(messages, list)
    return next(m for m in messages if m.get("tool_calls"))


async def test_a_refusal_naming_null_content_is_retried_adapted_and_remembered(
    engine: Engine, provider: ScriptedProvider
) -> None:
    client = await engine()
    provider.script(
        ToolCalls(Call("get_weather", {}, id="call_1")),
        Error(500, LLAMA_CPP_NULL_CONTENT),
        Text("Sunny."),
        ToolCalls(Call("get_weather", {}, id="call_1")),
        Text("Still sunny."),
    )
    assert (await _tool_call_round(client)).status == "completed"
    refused, adapted = provider.requests[1].body, provider.requests[2].body
    assert _assistant_turn(refused)["content"] is None  # OpenAI's own form first
    assert _assistant_turn(adapted)["content"] == ""
    assert adapted["messages"][:-2] == refused["messages"][:-2]  # type: ignore[index]

    # Learned for this provider: the next run's request goes out adapted at once.
    assert (await _tool_call_round(client)).status == "completed"
    assert len(provider.requests) == 5
    assert _assistant_turn(provider.requests[4].body)["content"] == ""


async def test_a_refusal_naming_no_known_cause_stands(
    engine: Engine, provider: ScriptedProvider
) -> None:
    client = await engine()
    provider.script(
        ToolCalls(Call("get_weather", {}, id="call_1")), Error(500, "out of memory: content")
    )
    run = await _tool_call_round(client)
    assert run.status == "failed" and run.last_error is not None
    assert run.last_error.code == "server_error"
    assert len(provider.requests) == 2


async def test_max_tokens_when_configured_or_when_max_completion_tokens_is_refused(
    engine: Engine, provider: ScriptedProvider
) -> None:
    # Configured (llama-cpp-python ignores max_completion_tokens, so nothing would refuse it).
    client = await engine(PROVIDER_COMPAT="max_tokens")
    provider.script(Text("Hello there."), Text("Hi."))
    assistant = await client.beta.assistants.create(model="m")
    run = await client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Hi"}]},
        max_completion_tokens=256,
    )
    assert run.status in ("completed", "incomplete")
    body = provider.requests[0].body
    assert body["max_tokens"] == 256 and "max_completion_tokens" not in body
    await client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Hi"}]}
    )
    assert "max_tokens" not in provider.requests[1].body  # no budget, nothing sent

    # A strict server that refuses the newer name by name (older Azure API versions).
    provider.reset()
    client = await engine()
    provider.script(
        Error(400, "Unrecognized request argument supplied: max_completion_tokens"), Text("Hi.")
    )
    run = await client.beta.threads.create_and_run_poll(
        assistant_id=(await client.beta.assistants.create(model="m")).id,
        thread={"messages": [{"role": "user", "content": "Hi"}]},
        max_completion_tokens=300,
    )
    assert run.status in ("completed", "incomplete")
    first, second = (request.body for request in provider.requests)
    assert first["max_completion_tokens"] == 300 and "max_tokens" not in first
    assert second["max_tokens"] == 300 and "max_completion_tokens" not in second


def test_an_unknown_adaptation_is_refused_at_start() -> None:
    with pytest.raises(ValidationError) as refused:
        EngineSettings.model_validate({"PROVIDER_COMPAT": "max_tokens,telepathy"})
    assert "unknown adaptation 'telepathy'" in str(refused.value)


def test_repeated_tool_call_headers_are_dropped_from_the_stream() -> None:
    """llama-cpp-python's stream of one forced call: id and name in every delta."""
    normalize = RepeatedCallHeaders()

    def delta(arguments: str, index: int = 0, call_id: str = "call_0") -> dict[str, Any]:
        call = {"index": index, "id": call_id, "type": "function"}
        call["function"] = {"name": "get_weather", "arguments": arguments}
        return {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}

    calls = [
        normalize(delta(piece))["choices"][0]["delta"]["tool_calls"][0]
        for piece in ('{"city', '": "Par', 'is"}')
    ]
    assert calls[0]["id"] == "call_0" and calls[0]["function"]["name"] == "get_weather"
    assert all("id" not in c and "name" not in c["function"] for c in calls[1:])
    assert "".join(c["function"]["arguments"] for c in calls) == '{"city": "Paris"}'
    # A second call (another index, or another id) keeps its own header.
    other = normalize(delta("{}", index=1, call_id="call_1"))["choices"][0]["delta"]
    assert other["tool_calls"][0]["function"]["name"] == "get_weather"
    # OpenAI's own form (header once, then arguments only) passes unchanged.
    plain = {
        "choices": [
            {"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": "x"}}]}}
        ]
    }
    assert normalize(plain) == {
        "choices": [
            {"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": "x"}}]}}
        ]
    }
