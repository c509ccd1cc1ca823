"""Rounds where a small model does not move on (engine/runs/loops.py, issue 23), replayed by
the scripted provider as Qwen2.5-Coder-0.5B did them on llama.cpp:
- it writes the call again after reading its output: the repeat is answered with the earlier
  output and the model asked to answer (`tool_choice: "none"`; built-in calls repeated: see
  test_builtin_tools.py);
- it answers with text when `tool_choice` names a function (llama.cpp ignores that): asked
  once more, plainly; a second text answer fails the run saying so."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from openai_assistant_mcp.engine.runs import loops
from openai_assistant_mcp.engine.runs.stream import ToolCall
from tests.runner.test_text_tool_calls import WEATHER
from tests.support.scripted_provider import Call, ScriptedProvider, Text, ToolCalls

# Qwen's call as text, first and again after the output (the second with other spacing).
AS_TEXT = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
AGAIN = '```json\n{"name":"get_weather","arguments":{"city":"Paris"}}\n```'


async def _weather_run(oai: openai.AsyncOpenAI, **extra: Any) -> tuple[str, Any]:
    assistant = await oai.beta.assistants.create(model="qwen", tools=[WEATHER])  # type: ignore[list-item]
    thread = await oai.beta.threads.create(
        messages=[{"role": "user", "content": "What is the weather in Paris?"}]
    )
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, **extra
    )
    return thread.id, run


@pytest.mark.parametrize(
    "again",
    [Text(AGAIN), ToolCalls(Call("get_weather", {"city": "Paris"}))],
    ids=["as-text", "native"],
)
async def test_a_function_call_repeated_after_its_output_is_answered_and_the_model_answers(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, again: Text | ToolCalls
) -> None:
    provider.script(Text(AS_TEXT), again, Text("It is sunny in Paris."))
    thread_id, run = await _weather_run(oai)
    assert run.status == "requires_action", run.last_error
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    run = await oai.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": "sunny, 24 C"}],
    )
    assert run.status == "completed", run.last_error  # not requires_action again
    answer = (await oai.beta.threads.messages.list(thread_id)).data[0]
    assert answer.content[0].text.value == "It is sunny in Paris."  # type: ignore[union-attr]
    # The repeat is a step answered with the earlier output; then the model was told to answer.
    steps = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc")).data
    assert [s.step_details.type for s in steps] == ["tool_calls", "tool_calls", "message_creation"]
    repeat: Any = steps[1].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert (repeat.function.name, repeat.function.output) == ("get_weather", "sunny, 24 C")
    third = provider.requests[2]
    assert third.body["tool_choice"] == "none"
    assert third.messages[-1]["role"] == "system"
    assert third.messages[-1]["content"].startswith("Answer the user's question now")
    assert [m["role"] for m in third.messages[-3:-1]] == ["assistant", "tool"]
    assert third.messages[-2]["content"] == "sunny, 24 C"


async def test_a_new_call_after_an_output_still_requires_action(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    """Tools may chain: only the same call again is a loop."""
    rome = '{"name": "get_weather", "arguments": {"city": "Rome"}}'
    provider.script(Text(AS_TEXT), Text(rome))
    thread_id, run = await _weather_run(oai)
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    run = await oai.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}],
    )
    assert run.status == "requires_action", run.last_error
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert json.loads(call.function.arguments) == {"city": "Rome"}
    assert provider.requests[1].body["tool_choice"] == "auto"


async def test_a_forced_function_answered_with_text_is_asked_for_again(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(Text("It is probably sunny."), Text(AS_TEXT))
    forced: Any = {"type": "function", "function": {"name": "get_weather"}}
    thread_id, run = await _weather_run(oai, tool_choice=forced)
    assert run.status == "requires_action", run.last_error
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    second = provider.requests[1]
    assert second.body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert second.messages[-1]["role"] == "system"
    assert "Call the function get_weather now" in second.messages[-1]["content"]
    listed = await oai.beta.threads.messages.list(thread_id)
    assert [m.role for m in listed.data] == ["user"]  # the text answer was never a message


async def test_a_forced_function_answered_with_text_twice_fails_the_run_saying_so(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(Text("It is probably sunny."), Text("Sunny, I think."))
    forced: Any = {"type": "function", "function": {"name": "get_weather"}}
    thread_id, run = await _weather_run(oai, tool_choice=forced)
    assert run.status == "failed"
    assert run.last_error is not None and run.last_error.code == "server_error"
    assert "instead of calling get_weather" in run.last_error.message
    assert "tool_choice" in run.last_error.message
    assert len(provider.requests) == 2
    listed = await oai.beta.threads.messages.list(thread_id)
    assert [m.role for m in listed.data] == ["user"]


def test_a_repeat_is_the_same_name_and_equal_arguments() -> None:
    transcript = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]

    def again(*calls: tuple[str, str]) -> list[str] | None:
        made = [ToolCall(i, f"call_x{i}", name, args) for i, (name, args) in enumerate(calls)]
        return loops.repeated_outputs(made, transcript)

    assert again(("get_weather", '{ "city":"Paris" }')) == ["sunny"]
    assert again(("get_weather", '{"city": "Rome"}')) is None
    assert again(("get_time", '{"city": "Paris"}')) is None
    assert again(("get_weather", '{"city": "Paris"}'), ("get_weather", '{"city": "Rome"}')) is None
    assert again() is None
    unanswered = transcript[:1]
    assert (
        loops.repeated_outputs([ToolCall(0, "c", "get_weather", '{"city": "Paris"}')], unanswered)
        is None
    )


async def test_required_answered_with_text_is_asked_for_again(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    """tool_choice "required" (any tool), which llama.cpp ignores too: asked again, plainly."""
    provider.script(Text("It is probably sunny."), Text(AS_TEXT))
    thread_id, run = await _weather_run(oai, tool_choice="required")
    assert run.status == "requires_action", run.last_error
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    second = provider.requests[1]
    assert second.body["tool_choice"] == "required"
    assert second.messages[-1]["role"] == "system"
    assert "Call one of the functions now (get_weather)" in second.messages[-1]["content"]
    listed = await oai.beta.threads.messages.list(thread_id)
    assert [m.role for m in listed.data] == ["user"]  # the text answer was never a message


async def test_required_answered_with_text_twice_fails_the_run_saying_so(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(Text("It is probably sunny."), Text("Sunny, I think."))
    thread_id, run = await _weather_run(oai, tool_choice="required")
    assert run.status == "failed"
    assert run.last_error is not None and run.last_error.code == "server_error"
    assert "instead of calling a tool" in run.last_error.message
    assert '"required"' in run.last_error.message
    assert len(provider.requests) == 2
    listed = await oai.beta.threads.messages.list(thread_id)
    assert [m.role for m in listed.data] == ["user"]
