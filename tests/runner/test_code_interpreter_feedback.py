"""What a small model reads back from code_interpreter (issue 23), in the real sandbox with the
scripted provider replaying what Qwen2.5-Coder-0.5B did in the task suite: an error as a short
traceback showing the failing line, with a hint for the errors it repeated (a top-level
`return`, a file name guessed wrong); "(no output …)" saying to print; after code that ran
cleanly, a reminder that it may answer now (where small models run: not on OpenAI's API)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from openai_assistant_mcp.engine.runs.loops import ANSWER_IF_DONE
from openai_assistant_mcp.engine.sandbox.code_interpreter import NO_OUTPUT
from tests.runner.conftest import Engine
from tests.support.sandbox import sandbox_settings
from tests.support.scripted_provider import (
    Call,
    EchoToolResult,
    ScriptedProvider,
    Text,
    ToolCalls,
)

__all__ = ["sandbox_settings"]
pytestmark = pytest.mark.usefixtures("sandbox_settings")

PRICES = b"day,price\n1,10\n2,20\n3,36\n"
MEAN = "import pandas as pd\ndf = pd.read_csv('/mnt/data/prices.csv')\nprint(df['price'].mean())"


async def _code_run(client: openai.AsyncOpenAI) -> tuple[str, Any]:
    """A run of an assistant with code_interpreter and prices.csv; the thread and the run."""
    upload = await client.files.create(file=("prices.csv", PRICES), purpose="assistants")
    assistant = await client.beta.assistants.create(
        model="qwen",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [upload.id]}},
    )
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "Mean of the price column of prices.csv?"}]
    )
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    return thread.id, run


async def _logs(client: openai.AsyncOpenAI, thread_id: str, run_id: str) -> str:
    """The logs output of the run's first code_interpreter call (what its step shows)."""
    steps = await client.beta.threads.runs.steps.list(run_id, thread_id=thread_id, order="asc")
    call: Any = steps.data[0].step_details.tool_calls[0]  # type: ignore[union-attr]
    return "\n".join(o.logs for o in call.code_interpreter.outputs if o.type == "logs")


async def test_a_call_left_open_runs_and_then_the_model_is_told_it_may_answer(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    # As Qwen wrote it: the code string's closing quote missing before the braces.
    left_open = '{"name": "python", "arguments": {"code": "' + MEAN.replace("\n", "\\n") + "}}"
    provider.script(Text(left_open), EchoToolResult("Result:"))
    thread_id, run = await _code_run(oai)
    assert run.status == "completed", run.last_error
    answer = (await oai.beta.threads.messages.list(thread_id, limit=1)).data[0]
    assert answer.content[0].text.value == "Result: 22.0"  # type: ignore[union-attr]
    after = provider.requests[1]
    assert [m["role"] for m in after.messages[-2:]] == ["tool", "system"]
    assert after.messages[-1]["content"] == ANSWER_IF_DONE
    assert after.body.get("tool_choice") != "none"  # it may still call the tool
    assert [t["function"]["name"] for t in after.body["tools"]] == ["python"]


async def test_an_error_shows_its_line_and_a_hint_and_no_reminder(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    code = (
        "import pandas as pd\ndf = pd.read_csv('/mnt/data/prices.csv')\nreturn df['price'].mean()"
    )
    provider.script(ToolCalls(Call("python", {"code": code})), Text("I could not compute it."))
    thread_id, run = await _code_run(oai)
    assert run.status == "completed", run.last_error
    told = provider.requests[1].messages[-1]
    assert told["role"] == "tool"  # an error: no "answer now" reminder after it
    assert told["content"].splitlines() == [
        'File "<code>", line 3',
        "    return df['price'].mean()",
        "    ^^^^^^^^^^^^^^^^^^^^^^^^^",
        "SyntaxError: 'return' outside function",
        "[the code runs at the top level, like a notebook cell: print() a value rather than "
        "return it]",
    ]
    shown = await _logs(oai, thread_id, run.id)
    assert "SyntaxError: 'return' outside function" in shown
    assert "notebook cell" not in shown  # the step shows the code's own output only


async def test_a_missing_file_is_told_with_the_files_there(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    code = "import pandas as pd\npd.read_csv('/mnt/data/price_data.csv')"
    provider.script(ToolCalls(Call("python", {"code": code})), Text("No such file."))
    _, run = await _code_run(oai)
    assert run.status == "completed", run.last_error
    told = provider.requests[1].messages[-1]["content"]
    assert "FileNotFoundError" in told
    assert (
        "  File \"<code>\", line 2, in <module>\n    pd.read_csv('/mnt/data/price_data.csv')"
        in told
    )
    assert told.endswith("[files in /mnt/data: /mnt/data/prices.csv]")
    assert len(told.splitlines()) < 12  # pandas' own frames counted, not listed


async def test_a_usual_name_used_without_its_import_is_told(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    code = "import pandas as pd\nplt.plot(pd.read_csv('/mnt/data/prices.csv')['price'])"
    provider.script(ToolCalls(Call("python", {"code": code})), Text("No chart."))
    _, run = await _code_run(oai)
    assert run.status == "completed", run.last_error
    told = provider.requests[1].messages[-1]["content"]
    assert "NameError: name 'plt' is not defined" in told
    assert told.endswith("[plt is not imported: import matplotlib.pyplot as plt]")


async def test_code_that_prints_nothing_is_told_to_print(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    # As Qwen wrote it: a function defined and never called.
    code = "import pandas as pd\ndef mean(name):\n    return pd.read_csv(name)['price'].mean()"
    provider.script(ToolCalls(Call("python", {"code": code})), Text("The mean is 35.0."))
    _, run = await _code_run(oai)
    assert run.status == "completed", run.last_error
    told = provider.requests[1].messages[-1]
    assert told == {"role": "tool", "tool_call_id": told["tool_call_id"], "content": NO_OUTPUT}


async def test_no_reminder_where_text_tool_calls_are_not_looked_for(
    engine: Engine, provider: ScriptedProvider
) -> None:
    """OpenAI's own API (text tool calls off) gets the conversation as OpenAI would."""
    client = await engine(PROVIDER_TEXT_TOOL_CALLS="off")
    provider.script(ToolCalls(Call("python", {"code": MEAN})), EchoToolResult("Result:"))
    _, run = await _code_run(client)
    assert run.status == "completed", run.last_error
    assert provider.requests[1].messages[-1]["role"] == "tool"
    await client.close()
