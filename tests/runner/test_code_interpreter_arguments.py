"""code_interpreter for small models (issue 23): the call's arguments read leniently (raw
newlines in the JSON string, a doubled {"code": {"code": ...}}, fenced code) before the raw text,
and the user's files in /mnt/data named to the model with the tool. The run test replays
the arguments as Qwen2.5-0.5B's grammar-constrained output had them, in the real sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from openai_assistant_mcp.engine.sandbox import SandboxSettings
from openai_assistant_mcp.engine.sandbox.code_interpreter import _code_from
from tests.support.sandbox import sandbox_settings
from tests.support.scripted_provider import (
    Call,
    EchoToolResult,
    ScriptedProvider,
    Text,
    ToolCalls,
)

__all__ = ["sandbox_settings"]

CODE = "import pandas as pd\ndf = pd.read_csv('/mnt/data/prices.csv')\nprint(df['price'].mean())"
# Raw newlines inside the JSON string: invalid under strict parsing, as Qwen's output was.
RAW_NEWLINES = '{"code": "' + CODE + '"}'


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (RAW_NEWLINES, CODE),
        (json.dumps({"code": CODE}), CODE),
        (json.dumps({"code": {"code": CODE}}), CODE),
        (json.dumps({"code": f"```python\n{CODE}\n```"}), CODE + "\n"),
        (f"```python\n{CODE}\n```", CODE + "\n"),
        ('{"code": "print(1)\nprint(2)', "print(1)\nprint(2)"),  # cut short
        ("print(1)", "print(1)"),
        (json.dumps(CODE), CODE),
    ],
    ids=["raw-newlines", "strict", "doubled", "fenced-in-json", "fenced", "cut", "raw", "string"],
)
def test_code_is_read_leniently(arguments: str, code: str) -> None:
    assert _code_from(arguments) == code


def test_arguments_that_are_not_code_are_refused() -> None:
    with pytest.raises(ValueError, match="code"):
        _code_from('{"script": "print(1)"}')


@pytest.fixture
def _sandbox_ready(sandbox_settings: SandboxSettings) -> Iterator[None]:
    yield


@pytest.mark.usefixtures("_sandbox_ready")
async def test_raw_newline_arguments_run_and_the_files_are_named(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    data = b"day,price\n1,10\n2,20\n3,36\n"
    upload = await oai.files.create(file=("prices.csv", data), purpose="assistants")
    assistant = await oai.beta.assistants.create(
        model="qwen",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [upload.id]}},
    )
    thread = await oai.beta.threads.create(
        messages=[{"role": "user", "content": "Mean of the price column?"}]
    )
    provider.script(ToolCalls(Call("python", RAW_NEWLINES)), EchoToolResult("Result:"))
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "completed", run.last_error
    [tool] = provider.requests[0].body["tools"]
    assert tool["function"]["description"].endswith(
        f"Files in /mnt/data: /mnt/data/prices.csv ({len(data)} bytes)."
    )
    answer = (await oai.beta.threads.messages.list(thread.id, limit=1)).data[0]
    assert answer.content[0].text.value == "Result: 22.0"  # type: ignore[union-attr]


@pytest.mark.usefixtures("_sandbox_ready")
async def test_code_written_as_a_call_of_another_name_runs(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    """As Qwen2.5-0.5B wrote it in the task suite: its own name for the call, the code right."""
    data = b"day,price\n1,10\n2,20\n3,36\n"
    upload = await oai.files.create(file=("prices.csv", data), purpose="assistants")
    assistant = await oai.beta.assistants.create(
        model="qwen",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [upload.id]}},
    )
    thread = await oai.beta.threads.create(
        messages=[{"role": "user", "content": "Mean of the price column?"}]
    )
    written = {"name": "computeMeanPrice", "arguments": {"code": CODE}}
    provider.script(Text(f"```json\n{json.dumps(written)}\n```"), EchoToolResult("Result:"))
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "completed", run.last_error
    steps = (await oai.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")).data
    call: Any = steps[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    assert call.type == "code_interpreter" and call.code_interpreter.input == CODE
    answer = (await oai.beta.threads.messages.list(thread.id, limit=1)).data[0]
    assert answer.content[0].text.value == "Result: 22.0"  # type: ignore[union-attr]
