"""The run inspector in a real browser: a run's steps with timings and usage, what file_search
found (chunks with scores), code_interpreter's code, logs and image, a function call's
arguments and output, and why a run failed, in plain words. Runs are made through the REST
API (the test's own client) with a scripted model, then inspected in the page."""

from __future__ import annotations

from typing import Any

import openai

from openai_assistant_mcp.engine.sandbox import SandboxSettings
from tests.mcp.servers import ServerProcess
from tests.support.browser import Console
from tests.support.sandbox import sandbox_settings
from tests.support.scripted_provider import (
    Call,
    CiteSources,
    EchoToolResult,
    Error,
    RunCode,
    ScriptedProvider,
    SearchFiles,
    ToolCalls,
)

from .helpers import WEATHER_TOOL, ingested_store, no_script_ran, rest

__all__ = ["sandbox_settings"]  # the fixture: bwrap present (or skip) and the venv built


def _run(client: openai.OpenAI, content: str, **assistant: Any) -> tuple[str, Any]:
    made = client.beta.assistants.create(model="gpt-test", **assistant)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": content}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=made.id, poll_interval_ms=100
    )
    return thread.id, run


def _inspect(console: Console, key: str, thread_id: str, run_id: str) -> None:
    console.open(f"inspector/{thread_id}/{run_id}", key=key)
    console.find("[data-page=inspector] .run-summary")
    console.severe_console_messages()


def test_file_search_chunks_scores_and_the_cited_quote(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    client = rest(console_server, key)
    store_id, ids = ingested_store(
        client,
        ("cats.txt", b"Kittens sleep most of the night and purr when they wake."),
        ("rates.txt", b"Interest rates rose by a quarter point in March."),
    )
    model_provider.script(SearchFiles("kitten night", id="call_fs"), CiteSources())
    thread_id, run = _run(
        client,
        "search: kittens",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store_id]}},
    )
    assert run.status == "completed"
    _inspect(console, key, thread_id, run.id)

    summary = console.find(".run-summary")
    assert "completed" in summary.text
    assert f"{run.usage.total_tokens} tokens" in summary.text
    steps = console.find_all("section.step")
    assert [s.get_attribute("data-step-id") for s in steps] == [
        s.id for s in client.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc")
    ]
    search = console.find(".step-tool_calls .tool-file_search")
    chunks = search.find_elements("css selector", ".chunk")
    assert chunks[0].get_attribute("data-file-id") == ids["cats.txt"]
    assert "Kittens sleep most of the night" in chunks[0].text  # the chunk's text (include[])
    scores = [float(c.find_element("css selector", ".score").text.split()[-1]) for c in chunks]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1
    assert "Took" in steps[0].text and "tokens" in steps[0].text
    # The answer's citation opens the file with the quoted chunk.
    console.find(".step-message_creation button.cite").click()
    view = console.find(f".file-view[data-file-id='{ids['cats.txt']}']")
    console.wait(lambda d: "Kittens sleep most" in view.text)
    assert "Kittens sleep most" in view.find_element("css selector", ".quote").text
    no_script_ran(console)


def test_code_interpreter_code_logs_and_image(
    console: Console,
    console_server: ServerProcess,
    model_provider: ScriptedProvider,
    key: str,
    sandbox_settings: SandboxSettings,
) -> None:
    client = rest(console_server, key)
    model_provider.script(RunCode(), EchoToolResult("Result:"))
    code = "import matplotlib.pyplot as plt\nplt.bar([1, 2], [3, 1])\nprint('bars drawn')"
    thread_id, run = _run(client, f"```python\n{code}\n```", tools=[{"type": "code_interpreter"}])
    assert run.status == "completed", run.last_error
    _inspect(console, key, thread_id, run.id)

    tool = console.find(".step-tool_calls .tool-code_interpreter")
    assert "plt.bar([1, 2], [3, 1])" in tool.find_element("css selector", "pre.code").text
    assert "bars drawn" in tool.find_element("css selector", "pre.logs").text
    image = tool.find_element("css selector", "img.msg-image")
    console.wait(
        lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", image
        )
    )


def test_function_arguments_and_output(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    client = rest(console_server, key)
    model_provider.script(
        ToolCalls(Call("get_weather", {"city": "Oslo"}, id="call_oslo")),
        EchoToolResult("Weather:"),
    )
    thread_id, run = _run(client, "Weather in Oslo?", tools=[WEATHER_TOOL])
    assert run.status == "requires_action"
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": "call_oslo", "output": "-3 C, snow"}],
        poll_interval_ms=100,
    )
    assert run.status == "completed"
    _inspect(console, key, thread_id, run.id)

    call = console.find(".tool-function[data-call-id=call_oslo]")
    assert "get_weather" in call.text
    assert '"city": "Oslo"' in call.find_element("css selector", "pre.args").text
    assert call.find_element("css selector", "pre.output").text == "-3 C, snow"
    console.wait_text(".step-message_creation .msg", "Weather: -3 C, snow")


def test_a_failed_run_says_why_in_plain_words(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    client = rest(console_server, key)
    model_provider.forever(Error(400, "The prompt mentions a forbidden fruit."))
    thread_id, run = _run(client, "banana")
    assert run.status == "failed" and run.last_error is not None
    _inspect(console, key, thread_id, run.id)

    reason = console.find(".run-summary .run-error")
    assert run.last_error.message in reason.text
    assert f"({run.last_error.code})" in reason.text
    assert console.find(".run-summary [data-status=failed]")


def test_the_runs_of_a_thread_link_to_each_run(
    console: Console, console_server: ServerProcess, model_provider: ScriptedProvider, key: str
) -> None:
    client = rest(console_server, key)
    model_provider.forever(Error(400, "Not today."))
    thread_id, run = _run(client, "hello")
    console.open(f"inspector/{thread_id}", key=key)
    link = console.find(f"table.runs tr[data-run-id={run.id}] a")
    assert "failed" in console.find(f"table.runs tr[data-run-id={run.id}]").text
    link.click()
    console.find(".run-summary .run-error")
    assert run.id in console.find("h1 .run-id").text
