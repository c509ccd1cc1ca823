"""Function calling: requires_action, submit_tool_outputs (polling and streaming), refusals."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from tests.runner.sse_tap import TapTransport, parse_sse
from tests.support.scripted_provider import Call, ScriptedProvider, Text, ToolCalls

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


async def _thread_and_assistant(oai: openai.AsyncOpenAI, **assistant: object) -> tuple[str, str]:
    made = await oai.beta.assistants.create(model="gpt-test", tools=[WEATHER, TIME], **assistant)  # type: ignore[arg-type]
    thread = await oai.beta.threads.create(
        messages=[{"role": "user", "content": "Weather in Paris and the time?"}]
    )
    return thread.id, made.id


async def test_parallel_tool_calls_then_answer_polling(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(
        ToolCalls(
            Call("get_weather", {"city": "Paris"}, id="call_w"),
            Call("get_time", {}, id="call_t"),
        ),
        Text("Sunny, and it is noon."),
    )
    thread_id, assistant_id = await _thread_and_assistant(oai)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, tool_choice="auto"
    )
    assert run.status == "requires_action"
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.id, c.function.name) for c in calls] == [
        ("call_w", "get_weather"),
        ("call_t", "get_time"),
    ]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert run.expires_at is not None and run.usage is None

    # Every pending call needs an output, and only those.
    with pytest.raises(openai.BadRequestError) as missing:
        await oai.beta.threads.runs.submit_tool_outputs(
            run_id=run.id,
            thread_id=thread_id,
            tool_outputs=[{"tool_call_id": "call_w", "output": "x"}],
        )
    assert "call_t" in missing.value.message
    with pytest.raises(openai.BadRequestError) as unknown:
        await oai.beta.threads.runs.submit_tool_outputs(
            run_id=run.id,
            thread_id=thread_id,
            tool_outputs=[
                {"tool_call_id": "call_w", "output": "x"},
                {"tool_call_id": "call_t", "output": "y"},
                {"tool_call_id": "call_zzz", "output": "z"},
            ],
        )
    assert unknown.value.body["param"] == "tool_outputs[2].tool_call_id"  # type: ignore[index]
    # Messages can't be added while the run waits.
    with pytest.raises(openai.BadRequestError):
        await oai.beta.threads.messages.create(thread_id, role="user", content="hello?")

    run = await oai.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[
            {"tool_call_id": "call_t", "output": "12:00"},
            {"tool_call_id": "call_w", "output": "sunny"},
        ],
    )
    assert run.status == "completed"
    assert run.usage is not None and run.usage.completion_tokens == 2 + 5

    steps = await oai.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread_id, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]
    tool_step = steps.data[0]
    assert tool_step.status == "completed"
    details = tool_step.step_details
    assert details.type == "tool_calls"
    assert [(c.function.name, c.function.output) for c in details.tool_calls] == [  # type: ignore[union-attr]
        ("get_weather", "sunny"),
        ("get_time", "12:00"),
    ]
    messages = await oai.beta.threads.messages.list(thread_id, order="asc")
    assert messages.data[-1].content[0].text.value == "Sunny, and it is noon."  # type: ignore[union-attr]

    first, second = provider.requests
    assert first.body["tools"] == [WEATHER, TIME]
    assert first.body["tool_choice"] == "auto"
    assert second.body["messages"] == [
        {"role": "user", "content": "Weather in Paris and the time?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_w",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_t",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_w", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_t", "content": "12:00"},
    ]


async def test_streamed_tool_call_and_streamed_outputs(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, tap: TapTransport
) -> None:
    provider.script(
        ToolCalls(Call("get_weather", {"city": "Oslo"}, id="call_1")),
        Text("It is snowing in Oslo."),
    )
    thread_id, assistant_id = await _thread_and_assistant(oai)
    async with oai.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id
    ) as stream:
        await stream.until_done()
        run = stream.current_run
    assert run is not None and run.status == "requires_action"
    first = [event for event, _ in parse_sse(bytes(tap.streams[-1]))]
    assert first[:3] == ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
    assert first[3:5] == ["thread.run.step.created", "thread.run.step.in_progress"]
    assert set(first[5:-2]) == {"thread.run.step.delta"}
    assert first[-2:] == ["thread.run.requires_action", "done"]

    async with oai.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": "call_1", "output": "snow"}],
    ) as stream:
        text = "".join([delta async for delta in stream.text_deltas])
        final = await stream.get_final_run()
    assert text == "It is snowing in Oslo."
    assert final.status == "completed"
    second = [event for event, _ in parse_sse(bytes(tap.streams[-1]))]
    assert second[:4] == [
        "thread.run.step.completed",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
    ]
    assert second[-5:] == [
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
        "done",
    ]
    assert provider.requests[1].body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "snow",
    }


async def test_refusals_on_run_state(oai: openai.AsyncOpenAI, provider: ScriptedProvider) -> None:
    provider.script(ToolCalls(Call("get_time", {}, id="call_a")))
    thread_id, assistant_id = await _thread_and_assistant(oai)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "requires_action"
    with pytest.raises(openai.BadRequestError) as second:
        await oai.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
    assert second.value.body["message"] == (  # type: ignore[index]
        f"Thread {thread_id} already has an active run {run.id}."
    )

    cancelled = await oai.beta.threads.runs.cancel(run_id=run.id, thread_id=thread_id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    steps = await oai.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread_id)
    assert [s.status for s in steps.data] == ["cancelled"]
    with pytest.raises(openai.BadRequestError) as late:
        await oai.beta.threads.runs.submit_tool_outputs(
            run_id=run.id,
            thread_id=thread_id,
            tool_outputs=[{"tool_call_id": "call_a", "output": "1"}],
        )
    assert late.value.body["message"] == 'Runs in status "cancelled" do not accept tool outputs.'
    with pytest.raises(openai.BadRequestError) as again:
        await oai.beta.threads.runs.cancel(run_id=run.id, thread_id=thread_id)
    assert again.value.body["message"] == "Cannot cancel run with status 'cancelled'."
    # The thread is free again.
    await oai.beta.threads.messages.create(thread_id, role="user", content="next")


async def test_every_stream_that_stops_for_tool_outputs_says_so(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    """60 streamed runs at once stop at requires_action while the lease heartbeat runs every
    0.1 s: each stream ends with `thread.run.requires_action`. The turn gives up its lease when
    it stores that; on PostgreSQL a heartbeat could see the commit before the turn did, take the
    run for lost and cancel the turn, whose stream then ended with an error event instead (this
    test failed about every other time)."""
    provider.script(*[ToolCalls(Call("get_time", {}, id=f"call_{i}")) for i in range(60)])

    async def one() -> str:
        thread_id, assistant_id = await _thread_and_assistant(oai)
        async with oai.beta.threads.runs.stream(
            thread_id=thread_id, assistant_id=assistant_id
        ) as stream:
            events = [str(event.event) async for event in stream]  # an error event has none
        runs = [e for e in events if e.startswith("thread.run.") and ".step." not in e]
        return runs[-1]

    last = await asyncio.gather(*(one() for _ in range(60)))
    assert last == ["thread.run.requires_action"] * 60


@pytest.mark.parametrize(
    "forced", ["required", {"type": "function", "function": {"name": "get_weather"}}]
)
async def test_a_forced_tool_choice_forces_the_first_call_only(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, forced: object
) -> None:
    """After the outputs come back the provider gets `auto`: forcing it again would have a model
    that obeys (a grammar-constrained local one does) call the function forever."""
    provider.script(ToolCalls(Call("get_weather", {"city": "Paris"}, id="call_w")), Text("Sunny."))
    thread_id, assistant_id = await _thread_and_assistant(oai)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id,
        assistant_id=assistant_id,
        tool_choice=forced,  # type: ignore[arg-type]
    )
    assert run.status == "requires_action"
    run = await oai.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread_id, tool_outputs=[{"tool_call_id": "call_w", "output": "x"}]
    )
    assert run.status == "completed"
    first, second = (request.body.get("tool_choice") for request in provider.requests)
    assert (first, second) == (forced, "auto")
    # The run itself keeps the tool_choice it was created with.
    shown = run.tool_choice if isinstance(run.tool_choice, str) else run.tool_choice.model_dump()  # type: ignore[union-attr]
    assert shown == forced
