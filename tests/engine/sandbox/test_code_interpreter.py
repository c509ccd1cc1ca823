"""The code_interpreter built-in tool on a real engine (store, Files) and the real sandbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from openai_assistant_mcp.engine.app import start_engine, stop_engine
from openai_assistant_mcp.engine.builtin_tools import builtin_tools
from openai_assistant_mcp.engine.runs.builtin import BuiltinContext, BuiltinTool
from openai_assistant_mcp.engine.sandbox import SandboxSettings
from openai_assistant_mcp.engine.sandbox.code_interpreter import partial_code
from openai_assistant_mcp.engine.services import files, messages, threads
from openai_assistant_mcp.engine.state import EngineState
from tests.support.engine import engine_settings

TENANT = "tenant-ci"


@pytest.fixture
async def state(sandbox_settings: SandboxSettings, tmp_path: Path) -> AsyncIterator[EngineState]:
    settings = engine_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}", tmp_path, sandbox=sandbox_settings
    )
    engine = await start_engine(settings)
    try:
        yield engine
    finally:
        await stop_engine(engine)


async def context(state: EngineState, **fields: Any) -> BuiltinContext:
    thread = await threads.create(state, TENANT, fields)
    run = {"id": "run_x", "thread_id": thread["id"], "tools": [{"type": "code_interpreter"}]}
    return BuiltinContext(
        tenant=TENANT,
        run=run,
        tool_resources=thread.get("tool_resources") or {},
        api_key=None,
        services=state,
    )


def call_args(code: str) -> str:
    return json.dumps({"code": code})


def code_interpreter(state: EngineState) -> BuiltinTool:
    """The engine's code_interpreter, from the built-in tools its executor runs."""
    tool = state.executor.tools.of_type("code_interpreter")
    assert tool is not None
    return tool


def test_listed_and_offered_as_one_function(tmp_path: Path) -> None:
    tools = builtin_tools(engine_settings(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}", tmp_path))
    tool = tools.of_type("code_interpreter")
    assert tool is not None and tools.by_function_name("python") is tool
    offered = tool.function({"type": "code_interpreter"})
    assert offered["function"]["name"] == "python"
    assert offered["function"]["parameters"]["required"] == ["code"]


async def test_arithmetic_and_state_across_calls(state: EngineState) -> None:
    tool = code_interpreter(state)
    ctx = await context(state)
    assert await tool.unavailable(ctx) is None
    first = await tool.call(ctx, call_args("total = sum(range(101))\nprint(total)"))
    assert first.tool_call == {
        "type": "code_interpreter",
        "code_interpreter": {
            "input": "total = sum(range(101))\nprint(total)",
            "outputs": [{"type": "logs", "logs": "5050"}],
        },
    }
    assert first.model_output == "5050" and first.files == []
    second = await tool.call(ctx, call_args("total * 2"))
    assert second.model_output == "10100"
    other_thread = await context(state)
    assert "NameError" in (await tool.call(other_thread, call_args("total"))).model_output


async def test_bad_code_and_bad_arguments_are_results(state: EngineState) -> None:
    tool = code_interpreter(state)
    ctx = await context(state)
    failed = await tool.call(ctx, call_args("raise ValueError('nope')"))
    assert "ValueError: nope" in failed.tool_call["code_interpreter"]["outputs"][0]["logs"]
    raw = await tool.call(ctx, "print('raw code, not JSON')")
    assert raw.model_output == "raw code, not JSON"
    wrong = await tool.call(ctx, json.dumps({"source": "1"}))
    assert wrong.model_output.startswith("Error: the arguments must be a JSON object")
    assert (await tool.call(ctx, call_args("print('still fine')"))).model_output == "still fine"


async def test_progress_publishes_the_code_before_it_runs(state: EngineState) -> None:
    tool = code_interpreter(state)
    ctx = await context(state)
    seen: list[dict[str, Any]] = []
    ctx.progress = seen.append
    await tool.call(ctx, call_args("1 + 1"))
    assert seen == [{"type": "code_interpreter", "code_interpreter": {"input": "1 + 1"}}]


async def test_unavailable_without_bwrap_names_the_package(
    state: EngineState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = code_interpreter(state)
    ctx = await context(state)
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = await tool.unavailable(ctx)
    assert reason is not None and "bubblewrap" in reason
    refused = await tool.call(ctx, call_args("print('must not run')"))
    assert "must not run" not in refused.model_output and "bubblewrap" in refused.model_output


async def upload(state: EngineState, name: str, data: bytes) -> str:
    async def chunks() -> AsyncIterator[bytes]:
        yield data

    return (await files.create_file(state, TENANT, name, "assistants", chunks()))["id"]


async def test_csv_from_file_ids_and_attachments_is_in_mnt_data(state: EngineState) -> None:
    tool = code_interpreter(state)
    sales = await upload(state, "sales.csv", b"month,amount\n1,10\n2,30\n3,20\n")
    ctx = await context(state, tool_resources={"code_interpreter": {"file_ids": [sales]}})
    note = await upload(state, "note.txt", b"attached")
    await messages.create(
        state,
        TENANT,
        ctx.run["thread_id"],
        {
            "role": "user",
            "content": "see attached",
            "attachments": [{"file_id": note, "tools": [{"type": "code_interpreter"}]}],
        },
    )
    code = (
        "import pandas as pd, os\ndf = pd.read_csv('/mnt/data/sales.csv')\n"
        "print(sorted(os.listdir('/mnt/data')), open('/mnt/data/note.txt').read())\n"
        "int(df.amount.sum())"
    )
    result = await tool.call(ctx, call_args(code))
    assert result.model_output == "['note.txt', 'sales.csv'] attached\n60"
    assert result.files == []  # the inputs are not outputs


async def test_chart_becomes_an_image_file(state: EngineState) -> None:
    tool = code_interpreter(state)
    ctx = await context(state)
    code = "import matplotlib.pyplot as plt\nplt.plot([3, 1, 2])\n_ = plt.title('trend')"
    result = await tool.call(ctx, call_args(code))
    outputs = result.tool_call["code_interpreter"]["outputs"]
    assert [o["type"] for o in outputs] == ["image"]
    file_id = outputs[0]["image"]["file_id"]
    assert result.files == [{"file_id": file_id, "image": True}]
    stored = await files.retrieve_file(state, TENANT, file_id)
    assert stored["purpose"] == "assistants_output" and stored["filename"].endswith(".png")
    png = await files.read_file_bytes(state, TENANT, file_id, 10 << 20)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) == stored["bytes"]
    assert file_id in result.model_output


async def test_written_file_becomes_a_file_with_its_path(state: EngineState) -> None:
    tool = code_interpreter(state)
    ctx = await context(state)
    code = "open('/mnt/data/report.csv', 'w').write('a,b\\n1,2\\n')\nprint('written')"
    result = await tool.call(ctx, call_args(code))
    assert result.model_output == "written\n[file saved: sandbox:/mnt/data/report.csv]"
    [made] = result.files
    assert made["path"] == "/mnt/data/report.csv"
    assert await files.read_file_bytes(state, TENANT, made["file_id"], 1000) == b"a,b\n1,2\n"
    unchanged = await tool.call(ctx, call_args("print('again')"))
    assert unchanged.files == []  # only files the execution wrote or changed


def test_partial_code_of_arguments_cut_anywhere() -> None:
    code = 'print("héllo \\\\ 😀")\nx = {"a": 1}\n'
    arguments = json.dumps({"code": code})  # ASCII escapes: \\u00e9, a surrogate pair, \\n
    seen = ""
    for end in range(len(arguments) + 1):
        partial = partial_code(arguments[:end])
        if partial is None:
            assert end < len('{"code": "')
            continue
        assert code.startswith(partial) and partial.startswith(seen)  # only ever grows
        seen = partial
    assert seen == code
    assert partial_code("print(1)") is None and partial_code('{"other": "x"}') is None
