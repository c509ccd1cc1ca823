"""What a run sends the provider: the assistant's settings overridden by the run's, the
thread's messages (truncated as asked), token budgets; and the run's own API surface."""

from __future__ import annotations

import openai
import pytest

from openai_assistant_mcp.engine.runs.file_search import FileSearch
from tests.runner.sse_tap import TapTransport, parse_sse
from tests.support.scripted_provider import Call, ScriptedProvider, Text, ToolCalls

ADD = {
    "type": "function",
    "function": {"name": "add", "parameters": {"type": "object"}, "strict": True},
}
LOOKUP = {"type": "function", "function": {"name": "lookup", "description": "Look it up."}}


async def test_run_overrides_reach_the_provider(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    assistant = await oai.beta.assistants.create(
        model="assistant-model",
        instructions="Assistant rules.",
        tools=[ADD, {"type": "code_interpreter"}],
        temperature=0.2,
        top_p=0.9,
        response_format={"type": "json_object"},
    )
    thread = await oai.beta.threads.create(messages=[{"role": "user", "content": "one"}])
    # The forced function is called, as tool_choice asks (a text answer is retried: runs/loops).
    provider.script(ToolCalls(Call("lookup", {}, id="c1")))
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        model="run-model",
        additional_instructions="Extra rules.",
        additional_messages=[
            {"role": "assistant", "content": "two"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "three"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
        ],
        tools=[LOOKUP, {"type": "file_search"}],
        temperature=1.5,
        top_p=0.5,
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        parallel_tool_calls=False,
        max_completion_tokens=300,
        response_format={"type": "text"},
        reasoning_effort="low",
        metadata={"purpose": "test"},
    )
    assert run.status == "requires_action"
    assert (run.model, run.instructions) == ("run-model", "Assistant rules.\n\nExtra rules.")
    assert [t.type for t in run.tools] == ["function", "file_search"]
    assert (run.temperature, run.top_p, run.max_completion_tokens) == (1.5, 0.5, 300)
    assert run.metadata == {"purpose": "test"} and run.parallel_tool_calls is False

    (sent,) = provider.requests
    assert sent.body == {
        "model": "run-model",
        "messages": [
            {"role": "system", "content": "Assistant rules.\n\nExtra rules."},
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "three"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
        ],
        # Function tools, and file_search as the one function the engine executes for it
        # (code_interpreter was the assistant's; the run's tools replace them).
        "tools": [LOOKUP, FileSearch().function({"type": "file_search"})],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "parallel_tool_calls": False,
        "temperature": 1.5,
        "top_p": 0.5,
        "response_format": {"type": "text"},
        "max_completion_tokens": 300,
        "reasoning_effort": "low",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    # The additional messages are now part of the thread (the run waits for the function's
    # output: no answer yet).
    listed = await oai.beta.threads.messages.list(thread.id, order="asc")
    assert [m.role for m in listed.data] == ["user", "assistant", "user"]
    assert listed.data[1].run_id is None


async def test_assistant_settings_are_the_defaults(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    assistant = await oai.beta.assistants.create(
        model="base", tools=[ADD], temperature=0.3, response_format={"type": "json_object"}
    )
    thread = await oai.beta.threads.create(messages=[{"role": "user", "content": "q"}])
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert (run.model, run.instructions, run.temperature, run.top_p) == ("base", "", 0.3, 1.0)
    assert run.tool_choice == "auto" and run.parallel_tool_calls is True
    assert run.truncation_strategy is not None and run.truncation_strategy.type == "auto"
    body = provider.requests[0].body
    assert body["tools"] == [ADD] and body["tool_choice"] == "auto"
    assert body["response_format"] == {"type": "json_object"} and body["temperature"] == 0.3
    assert "parallel_tool_calls" not in body and "max_completion_tokens" not in body


async def test_truncation_keeps_the_last_messages(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    assistant = await oai.beta.assistants.create(model="m")
    thread = await oai.beta.threads.create(
        messages=[{"role": "user", "content": f"message {i}"} for i in range(6)]
    )
    await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        truncation_strategy={"type": "last_messages", "last_messages": 2},
    )
    assert provider.requests[0].body["messages"] == [
        {"role": "user", "content": "message 4"},
        {"role": "user", "content": "message 5"},
    ]
    # `auto` with a prompt budget drops the oldest messages first.
    thread = await oai.beta.threads.create(
        messages=[{"role": "user", "content": "x" * 2000} for _ in range(3)]
    )
    await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_prompt_tokens=1100
    )
    assert len(provider.requests[1].body["messages"]) == 2


async def test_max_completion_tokens_ends_incomplete(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(Text("word " * 400))
    assistant = await oai.beta.assistants.create(model="m")
    thread = await oai.beta.threads.create(messages=[{"role": "user", "content": "talk"}])
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=256
    )
    assert run.status == "incomplete"
    assert run.incomplete_details is not None
    assert run.incomplete_details.reason == "max_completion_tokens"
    assert run.usage is not None and run.usage.completion_tokens == 256
    message = (await oai.beta.threads.messages.list(thread.id)).data[0]
    assert message.status == "incomplete" and message.incomplete_details is not None
    assert message.incomplete_details.reason == "max_tokens"
    assert provider.requests[0].body["max_completion_tokens"] == 256


async def test_completion_budget_spans_tool_turns(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(
        ToolCalls(Call("add", {}, id="c1"), usage={"prompt_tokens": 10, "completion_tokens": 200})
    )
    assistant = await oai.beta.assistants.create(model="m", tools=[ADD])
    thread = await oai.beta.threads.create(messages=[{"role": "user", "content": "sum"}])
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=256
    )
    assert run.status == "requires_action"
    run = await oai.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "c1", "output": "3"}]
    )
    assert provider.requests[1].body["max_completion_tokens"] == 56
    assert run.status == "completed"
    # 10 reported for the tool turn; then "sum" and the output "3" (words) for the answer.
    assert run.usage is not None and run.usage.prompt_tokens == 10 + 2


async def test_create_thread_and_run_streams_the_thread_first(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, tap: TapTransport
) -> None:
    provider.script(Text("Nice to meet you."))
    assistant = await oai.beta.assistants.create(model="m", instructions="Greet.")
    async with oai.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "I am new"}], "metadata": {"k": "v"}},
    ) as stream:
        await stream.until_done()
        run = await stream.get_final_run()
        messages = await stream.get_final_messages()
    assert run.status == "completed"
    assert messages[0].content[0].text.value == "Nice to meet you."  # type: ignore[union-attr]
    events = parse_sse(bytes(tap.streams[-1]))
    assert [e for e, _ in events[:3]] == [
        "thread.created",
        "thread.run.created",
        "thread.run.queued",
    ]
    thread = await oai.beta.threads.retrieve(run.thread_id)
    assert thread.metadata == {"k": "v"}
    assert provider.requests[0].body["messages"][1] == {"role": "user", "content": "I am new"}

    polled = await oai.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "again"}]}
    )
    assert polled.status == "completed" and polled.thread_id != run.thread_id


async def test_runs_list_retrieve_modify_and_steps(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    assistant = await oai.beta.assistants.create(model="m")
    thread = await oai.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    made = []
    for _ in range(3):
        made.append(
            await oai.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id
            )
        )
    page = await oai.beta.threads.runs.list(thread.id, limit=2)
    assert [r.id for r in page.data] == [made[2].id, made[1].id] and page.has_more
    rest = await oai.beta.threads.runs.list(thread.id, limit=2, after=page.data[-1].id)
    assert [r.id for r in rest.data] == [made[0].id] and not rest.has_more

    modified = await oai.beta.threads.runs.update(
        run_id=made[0].id, thread_id=thread.id, metadata={"tag": "first"}
    )
    assert modified.metadata == {"tag": "first"} and modified.status == "completed"
    assert (await oai.beta.threads.runs.retrieve(made[0].id, thread_id=thread.id)).metadata == {
        "tag": "first"
    }
    steps = await oai.beta.threads.runs.steps.list(
        run_id=made[0].id,
        thread_id=thread.id,
        include=["step_details.tool_calls[*].file_search.results[*].content"],
    )
    step = await oai.beta.threads.runs.steps.retrieve(
        steps.data[0].id, thread_id=thread.id, run_id=made[0].id
    )
    assert (
        step.usage is not None
        and step.usage.total_tokens == step.usage.prompt_tokens + step.usage.completion_tokens
    )

    with pytest.raises(openai.NotFoundError) as missing:
        await oai.beta.threads.runs.retrieve("run_missing", thread_id=thread.id)
    assert missing.value.body["message"] == "No run found with id 'run_missing'."  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        await oai.beta.threads.runs.steps.retrieve(
            "step_missing", thread_id=thread.id, run_id=made[0].id
        )
    with pytest.raises(openai.NotFoundError):
        await oai.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_missing")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_completion_tokens": 100}, "max_completion_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"truncation_strategy": {"type": "last_messages"}}, "truncation_strategy.last_messages"),
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_bad_run_requests_name_the_field(
    oai: openai.AsyncOpenAI, fields: dict[str, object], param: str
) -> None:
    assistant = await oai.beta.assistants.create(model="m")
    thread = await oai.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as refused:
        await oai.post(
            f"/threads/{thread.id}/runs",
            body={"assistant_id": assistant.id, **fields},
            cast_to=object,
        )
    assert refused.value.body["param"] == param  # type: ignore[index]
    assert (await oai.beta.threads.runs.list(thread.id)).data == []
