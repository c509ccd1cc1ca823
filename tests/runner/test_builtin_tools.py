"""The built-in tool seam (engine/runs/builtin.py) in a run: a test-only tool, the one built-in
tool of the engine these tests start, is offered as a function, executed by the turn (recorded
as its own step, streamed), and the provider asked again - without requires_action, mixed
correctly with function tools."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from openai_assistant_mcp.engine.app import create_app
from openai_assistant_mcp.engine.runs import prompt
from openai_assistant_mcp.engine.runs.builtin import BuiltinContext, BuiltinResult, BuiltinTools
from openai_assistant_mcp.engine.runs.turn import MAX_BUILTIN_ROUNDS
from tests.runner.conftest import RUN_SETTINGS, sdk_client
from tests.runner.sse_tap import TapTransport
from tests.support.engine import SpecViolations, engine_settings, serve_on_socket
from tests.support.migrated import MigratedDatabaseURL
from tests.support.scripted_provider import Call, ScriptedProvider, Text, ToolCalls

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


class Calculator:
    """A built-in tool for the tests, under the `code_interpreter` type (one the API knows)."""

    type = "code_interpreter"
    function_name = "evaluate"

    def __init__(self, unavailable: str | None = None) -> None:
        self.reason = unavailable
        self.contexts: list[BuiltinContext] = []

    def function(self, tool: dict[str, Any]) -> dict[str, Any]:
        parameters = {"type": "object", "properties": {"expression": {"type": "string"}}}
        return {
            "type": "function",
            "function": {"name": self.function_name, "parameters": parameters},
        }

    async def unavailable(self, ctx: BuiltinContext) -> str | None:
        return self.reason

    async def call(self, ctx: BuiltinContext, arguments: str) -> BuiltinResult:
        self.contexts.append(ctx)
        expression = json.loads(arguments)["expression"]
        ctx.progress({"type": "code_interpreter", "code_interpreter": {"input": expression}})
        value = str(sum(int(part) for part in expression.split("+")))
        details = {"input": expression, "outputs": [{"type": "logs", "logs": value}]}
        return BuiltinResult({"type": "code_interpreter", "code_interpreter": details}, value)


@pytest.fixture(scope="module")
def shared_calculator() -> Calculator:
    return Calculator()


@pytest.fixture
def calculator(shared_calculator: Calculator) -> Calculator:
    """The module engine's calculator, available and with no calls recorded."""
    shared_calculator.reason = None
    shared_calculator.contexts.clear()
    return shared_calculator


@pytest.fixture(scope="module")
async def calculator_engine_url(
    shared_calculator: Calculator,
    backend: str,
    migrated_database_url: MigratedDatabaseURL,
    tmp_path_factory: pytest.TempPathFactory,
    provider_server: ScriptedProvider,
) -> AsyncIterator[str]:
    """An engine whose one built-in tool is the calculator (handed to the executor as its list
    of built-in tools, as engine/builtin_tools.py hands the real ones), shared by this module's
    tests (per backend); each test calls as a tenant of its own."""
    settings = engine_settings(
        await migrated_database_url(backend),
        tmp_path_factory.mktemp("builtin-tools"),
        OPENAI_BASE_URL=provider_server.base_url,
        **RUN_SETTINGS,
    )
    app = create_app(settings, tools=lambda _: BuiltinTools([shared_calculator]))
    with serve_on_socket(app) as url:
        yield url


@pytest.fixture
async def oai(
    calculator: Calculator,
    calculator_engine_url: str,
    provider: ScriptedProvider,
    spec_violations: SpecViolations,
    tap: TapTransport,
) -> AsyncIterator[openai.AsyncOpenAI]:
    """An SDK client on the calculator's engine as a fresh tenant."""
    client = sdk_client(
        calculator_engine_url, "sk-runs-" + secrets.token_hex(8), spec_violations, tap
    )
    yield client
    await client.close()


async def _setup(oai: openai.AsyncOpenAI, *tools: dict[str, Any]) -> tuple[str, str]:
    assistant = await oai.beta.assistants.create(
        model="m",
        tools=[{"type": "code_interpreter"}, *tools],  # type: ignore[list-item]
        tool_resources={"code_interpreter": {"file_ids": []}},
    )
    thread = await oai.beta.threads.create(messages=[{"role": "user", "content": "2+3?"}])
    return thread.id, assistant.id


async def test_a_builtin_call_is_executed_and_the_run_goes_on(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, calculator: Calculator
) -> None:
    provider.script(
        ToolCalls(Call("evaluate", {"expression": "2+3"}, id="call_calc")), Text("It is 5.")
    )
    thread_id, assistant_id = await _setup(oai)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed"
    assert run.usage is not None and run.usage.completion_tokens == 1 + 3

    first, second = provider.requests
    assert [t["function"]["name"] for t in first.body["tools"]] == ["evaluate"]
    assert second.messages[-2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_calc",
                    "type": "function",
                    "function": {"name": "evaluate", "arguments": '{"expression": "2+3"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_calc", "content": "5"},
    ]
    assert calculator.contexts[0].run["id"] == run.id
    assert calculator.contexts[0].api_key == oai.api_key

    steps = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc")).data
    assert [(s.type, s.status) for s in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    call = steps[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert call.model_dump(exclude_none=True) == {
        "id": "call_calc",
        "type": "code_interpreter",
        "code_interpreter": {"input": "2+3", "outputs": [{"type": "logs", "logs": "5"}]},
    }
    answer = (await oai.beta.threads.messages.list(thread_id)).data[0]
    assert answer.content[0].text.value == "It is 5."  # type: ignore[union-attr]


async def test_a_builtin_call_streams_its_step(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, calculator: Calculator
) -> None:
    provider.script(ToolCalls(Call("evaluate", {"expression": "1+1"})), Text("Two."))
    thread_id, assistant_id = await _setup(oai)
    seen: list[tuple[str, Any]] = []
    async with oai.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id
    ) as stream:
        async for event in stream:
            seen.append((event.event, event.data))
    names = [name for name, _ in seen]
    assert names[-1] == "thread.run.completed"
    assert "thread.run.requires_action" not in names
    tool_step = next(d for n, d in seen if n == "thread.run.step.created")
    assert tool_step.type == "tool_calls"
    deltas = [
        d.delta.step_details.tool_calls[0]
        for n, d in seen
        if n == "thread.run.step.delta" and d.id == tool_step.id
    ]
    assert [d.type for d in deltas] == ["code_interpreter"] * 3
    assert deltas[1].code_interpreter.input == "1+1"
    assert deltas[2].code_interpreter.outputs[0].logs == "2"
    done = [d for n, d in seen if n == "thread.run.step.completed" and d.id == tool_step.id]
    assert done and done[0].step_details.tool_calls[0].code_interpreter.outputs[0].logs == "2"
    assert names.index("thread.run.step.completed") < names.index("thread.message.created")


async def test_builtin_and_function_calls_in_one_model_turn(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, calculator: Calculator
) -> None:
    provider.script(
        ToolCalls(
            Call("evaluate", {"expression": "4+4"}, id="call_calc"),
            Call("get_weather", {"city": "Oslo"}, id="call_w"),
        ),
        Text("8, and cold."),
    )
    thread_id, assistant_id = await _setup(oai, WEATHER)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "requires_action" and run.required_action is not None
    wanted = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.id, c.function.name) for c in wanted] == [("call_w", "get_weather")]
    step = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread_id)).data[0]
    assert step.status == "in_progress"
    assert [c.type for c in step.step_details.tool_calls] == ["code_interpreter", "function"]  # type: ignore[union-attr]

    run = await oai.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": "call_w", "output": "-3C"}],
    )
    assert run.status == "completed"
    assert len(provider.requests) == 2
    said = provider.requests[1].messages[-3:]
    assert [c["id"] for c in said[0]["tool_calls"]] == ["call_calc", "call_w"]
    assert said[1:] == [
        {"role": "tool", "tool_call_id": "call_calc", "content": "8"},
        {"role": "tool", "tool_call_id": "call_w", "content": "-3C"},
    ]
    step = await oai.beta.threads.runs.steps.retrieve(step.id, thread_id=thread_id, run_id=run.id)
    assert step.status == "completed"
    calc, weather = step.step_details.tool_calls  # type: ignore[union-attr]
    assert calc.code_interpreter.outputs[0].logs == "8"  # type: ignore[union-attr]
    assert weather.function.output == "-3C"  # type: ignore[union-attr]


async def test_an_unavailable_builtin_fails_the_run_naming_why(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, calculator: Calculator
) -> None:
    calculator.reason = "no sandbox here: install the `sandbox` extra"
    thread_id, assistant_id = await _setup(oai)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "failed" and run.last_error is not None
    assert run.last_error.code == "server_error"
    assert "no sandbox here: install the `sandbox` extra" in run.last_error.message
    assert provider.requests == []


async def test_builtin_rounds_are_bounded(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, calculator: Calculator
) -> None:
    provider.forever(ToolCalls(Call("evaluate", {"expression": "1+1"})))
    thread_id, assistant_id = await _setup(oai)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "failed" and run.last_error is not None
    assert f"more than {MAX_BUILTIN_ROUNDS} rounds" in run.last_error.message
    assert len(provider.requests) == MAX_BUILTIN_ROUNDS + 1
    steps = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread_id, limit=100)).data
    assert len(steps) == MAX_BUILTIN_ROUNDS + 1


@pytest.mark.parametrize("forced", [{"type": "code_interpreter"}, "required"])
async def test_after_a_forced_builtin_call_the_model_must_answer(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, calculator: Calculator, forced: Any
) -> None:
    """The round after a forced built-in call is sent `tool_choice: "none"`: a small model
    given `auto` writes the same call again (issue 23)."""
    provider.script(ToolCalls(Call("evaluate", {"expression": "2+3"})), Text("It is 5."))
    thread_id, assistant_id = await _setup(oai, WEATHER)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, tool_choice=forced
    )
    assert run.status == "completed", run.last_error
    first, second = (request.body["tool_choice"] for request in provider.requests)
    assert first == ("required" if forced == "required" else _function("evaluate"))
    assert second == "none"
    # ... and told last to answer from the outputs (Qwen2.5-0.5B wrote the call again without)
    last = provider.requests[1].messages[-1]
    assert last["role"] == "system" and last["content"].startswith("Answer the user's question")
    assert provider.requests[1].messages[-2]["role"] == "tool"


def _function(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


async def test_a_builtin_call_repeated_after_its_output_makes_the_model_answer(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, calculator: Calculator
) -> None:
    """The CSV mean of the task suite: the same code again and again until the round limit."""
    same = Call("evaluate", {"expression": "2+3"})
    provider.script(ToolCalls(same), ToolCalls(same), Text("It is 5."))
    thread_id, assistant_id = await _setup(oai)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed", run.last_error
    choices = [request.body["tool_choice"] for request in provider.requests]
    assert choices == ["auto", "auto", "none"]
    assert provider.requests[2].messages[-1]["content"] == prompt.ANSWER_NOW
    assert "marker" not in prompt.ANSWER_NOW  # no file_search results: no example marker to copy
