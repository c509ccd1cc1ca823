"""code_interpreter in runs, through the official SDK: the scripted model calls the offered
`python` function with the code of the user's message; the engine runs it in the thread's
real bubblewrap sandbox and the run goes on to the answer."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from openai_assistant_mcp.engine.runs.loops import ANSWER_IF_DONE
from openai_assistant_mcp.engine.sandbox import SandboxSettings
from tests.runner.sse_tap import TapTransport, parse_sse
from tests.support.sandbox import sandbox_settings
from tests.support.scripted_provider import EchoToolResult, RunCode, ScriptedProvider

CODE_INTERPRETER = [{"type": "code_interpreter"}]
__all__ = ["sandbox_settings"]  # the fixture: bwrap present (or skip) and the venv built


@pytest.fixture(autouse=True)
def _sandbox_ready(sandbox_settings: SandboxSettings) -> Iterator[None]:
    yield


def fenced(code: str) -> str:
    return f"Please run this:\n```python\n{code}\n```"


async def run_code(
    oai: openai.AsyncOpenAI,
    provider: ScriptedProvider,
    code: str,
    thread_id: str | None = None,
    assistant_id: str | None = None,
    **assistant: object,
) -> tuple[openai.types.beta.threads.Run, str]:
    """One run on `thread_id` (new if None) asking to run `code`; the run and its thread."""
    provider.script(RunCode(), EchoToolResult("Result:"))
    if assistant_id is None:
        made = await oai.beta.assistants.create(
            model="gpt-test", tools=CODE_INTERPRETER, **assistant
        )  # type: ignore[arg-type]
        assistant_id = made.id
    if thread_id is None:
        thread_id = (await oai.beta.threads.create()).id
    await oai.beta.threads.messages.create(thread_id, role="user", content=fenced(code))
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, poll_interval_ms=50
    )
    return run, thread_id


async def code_calls(oai: openai.AsyncOpenAI, thread_id: str, run_id: str) -> list:
    steps = await oai.beta.threads.runs.steps.list(run_id, thread_id=thread_id, order="asc")
    return [
        call
        for step in steps.data
        if step.step_details.type == "tool_calls"
        for call in step.step_details.tool_calls
        if call.type == "code_interpreter"
    ]


async def answer(oai: openai.AsyncOpenAI, thread_id: str) -> openai.types.beta.threads.Message:
    return (await oai.beta.threads.messages.list(thread_id, limit=1)).data[0]


async def test_arithmetic_with_printed_output(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    run, thread_id = await run_code(oai, provider, "print(6 * 7)")
    assert run.status == "completed", run.last_error
    offered = provider.requests[0].body["tools"]
    assert [t["function"]["name"] for t in offered] == ["python"]
    [call] = await code_calls(oai, thread_id, run.id)
    assert call.code_interpreter.input == "print(6 * 7)\n"
    assert [(o.type, o.logs) for o in call.code_interpreter.outputs] == [("logs", "42")]
    # The output, then (a provider small models run on: not OpenAI) the reminder to answer.
    assert provider.requests[1].messages[-2:] == [
        {"role": "tool", "tool_call_id": call.id, "content": "42"},
        {"role": "system", "content": ANSWER_IF_DONE},
    ]
    message = await answer(oai, thread_id)
    assert message.role == "assistant" and message.content[0].text.value == "Result: 42"


async def test_state_is_kept_between_two_runs(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    first, thread_id = await run_code(oai, provider, "secret_number = 21")
    assert first.status == "completed", first.last_error
    second, _ = await run_code(
        oai, provider, "print(secret_number * 2)", thread_id, first.assistant_id
    )
    assert second.status == "completed", second.last_error
    assert (await answer(oai, thread_id)).content[0].text.value == "Result: 42"


async def test_bad_code_is_output_and_the_run_completes(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    run, thread_id = await run_code(oai, provider, "1 / 0")
    assert run.status == "completed", run.last_error
    [call] = await code_calls(oai, thread_id, run.id)
    assert "ZeroDivisionError" in call.code_interpreter.outputs[0].logs


async def test_csv_from_file_ids_read_with_pandas(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    csv = await oai.files.create(
        file=("sales.csv", b"month,amount\n1,10\n2,30\n3,20\n"), purpose="assistants"
    )
    code = "import pandas as pd\ndf = pd.read_csv('/mnt/data/sales.csv')\nprint(df.amount.sum())"
    run, thread_id = await run_code(
        oai, provider, code, tool_resources={"code_interpreter": {"file_ids": [csv.id]}}
    )
    assert run.status == "completed", run.last_error
    assert (await answer(oai, thread_id)).content[0].text.value == "Result: 60"


async def test_chart_becomes_image_output_image_file_and_png(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 4, 2])\n_ = plt.title('trend')"
    run, thread_id = await run_code(oai, provider, code)
    assert run.status == "completed", run.last_error
    [call] = await code_calls(oai, thread_id, run.id)
    [image] = [o for o in call.code_interpreter.outputs if o.type == "image"]
    file_id = image.image.file_id
    stored = await oai.files.retrieve(file_id)
    assert stored.purpose == "assistants_output"
    png = await oai.files.content(file_id)
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) == stored.bytes
    message = await answer(oai, thread_id)
    image_parts = [part for part in message.content if part.type == "image_file"]
    assert [part.image_file.file_id for part in image_parts] == [file_id]


async def test_written_file_becomes_file_path_annotation_and_content(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    code = "open('/mnt/data/report.csv', 'w').write('a,b\\n1,2\\n')"
    run, thread_id = await run_code(oai, provider, code)
    assert run.status == "completed", run.last_error
    message = await answer(oai, thread_id)
    [text] = [part.text for part in message.content if part.type == "text"]
    assert "sandbox:/mnt/data/report.csv" in text.value
    [annotation] = text.annotations
    assert annotation.type == "file_path" and annotation.text == "sandbox:/mnt/data/report.csv"
    assert text.value[annotation.start_index : annotation.end_index] == annotation.text
    content = await oai.files.content(annotation.file_path.file_id)
    assert content.content == b"a,b\n1,2\n"
    stored = await oai.files.retrieve(annotation.file_path.file_id)
    assert (stored.filename, stored.purpose) == ("report.csv", "assistants_output")


async def test_stream_shows_the_code_step(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, tap: TapTransport
) -> None:
    provider.script(RunCode(), EchoToolResult("Result:"))
    assistant = await oai.beta.assistants.create(model="gpt-test", tools=CODE_INTERPRETER)  # type: ignore[arg-type]
    thread = await oai.beta.threads.create(
        messages=[{"role": "user", "content": fenced("print('streamed')")}]
    )
    async with oai.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id
    ) as stream:
        events = [event async for event in stream]
        # The SDK's own accumulation of the deltas: the code once, then its output.
        snapshots = await stream.get_final_run_steps()
    [accumulated] = [
        call
        for step in snapshots
        if step.step_details.type == "tool_calls"
        for call in step.step_details.tool_calls
    ]
    assert accumulated.code_interpreter.input == "print('streamed')\n"
    names = [event.event for event in events]
    assert names[-1] == "thread.run.completed"
    deltas = [
        call
        for event in events
        if event.event == "thread.run.step.delta"
        and event.data.delta.step_details is not None
        and event.data.delta.step_details.type == "tool_calls"
        for call in event.data.delta.step_details.tool_calls or []
        if call.type == "code_interpreter"
    ]
    inputs = "".join(d.code_interpreter.input or "" for d in deltas if d.code_interpreter)
    assert inputs == "print('streamed')\n"  # deltas add up: the code is sent once
    # ...and piece by piece as the model writes it, before any output.
    pieces = [
        d.code_interpreter.input for d in deltas if d.code_interpreter and d.code_interpreter.input
    ]
    assert len(pieces) > 1
    first_output = next(
        i for i, d in enumerate(deltas) if d.code_interpreter and d.code_interpreter.outputs
    )
    assert all(not (d.code_interpreter and d.code_interpreter.input) for d in deltas[first_output:])
    outputs = [o for d in deltas if d.code_interpreter for o in d.code_interpreter.outputs or []]
    assert any(o.type == "logs" and o.logs == "streamed" for o in outputs)
    completed = [
        e.data
        for e in events
        if e.event == "thread.run.step.completed" and e.data.type == "tool_calls"
    ]
    assert completed and completed[0].step_details.tool_calls[0].code_interpreter.outputs
    assert parse_sse  # events were also checked against the spec by the tap


async def test_no_sandbox_fails_the_run_naming_what_to_install(
    oai: openai.AsyncOpenAI,
    provider: ScriptedProvider,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap to be found
    run, _ = await run_code(oai, provider, "print('must not run')")
    assert run.status == "failed"
    assert run.last_error is not None and "bubblewrap" in run.last_error.message
    assert not provider.requests  # never offered to the model, never run


async def test_abusive_code_is_contained_and_the_thread_goes_on(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    code = (
        "import os\ntry:\n    blob = bytearray(10 * 1024**3)\nexcept MemoryError:\n"
        "    print('no memory')\ntry:\n    os.kill(1, 9)\nexcept OSError:\n    print('no kill')\n"
        "while True:\n    os.fork()"
    )
    run, thread_id = await run_code(oai, provider, code)
    assert run.status == "completed", run.last_error
    [call] = await code_calls(oai, thread_id, run.id)
    logs = call.code_interpreter.outputs[0].logs
    assert logs.startswith("no memory\nno kill\n") and "BlockingIOError" in logs
    again, _ = await run_code(oai, provider, "print('alive')", thread_id, run.assistant_id)
    assert again.status == "completed", again.last_error
    assert (await answer(oai, thread_id)).content[0].text.value == "Result: alive"


async def test_a_file_named_with_bytes_that_are_not_utf8_is_stored_under_a_valid_name(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    code = "open(b'/mnt/data/bad\\xff\\xfe.txt', 'wb').write(b'kept')"
    run, _ = await run_code(oai, provider, code)
    assert run.status == "completed", run.last_error
    listed = await oai.files.list()  # the list answers (it answered 500 with such a name)
    [made] = [f for f in listed.data if f.filename.startswith("bad")]
    assert made.filename == "bad\ufffd\ufffd.txt"
    assert (await oai.files.retrieve(made.id)).filename == made.filename
    assert (await oai.files.content(made.id)).content == b"kept"
