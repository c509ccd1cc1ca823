"""The API's shapes declared once (src/openai_assistant_mcp/shapes/): they match the spec's
facts, and a run setting declared there reaches both doors (the MCP run tools' arguments and
the REST request bodies) and the Run object the engine builds, with no other declaration."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest

from openai_assistant_mcp.engine.api import run_schemas
from openai_assistant_mcp.engine.builtin_tools import builtin_tools
from openai_assistant_mcp.engine.runs.builtin import BuiltinContext, BuiltinResult, BuiltinTools
from openai_assistant_mcp.engine.services import runs as run_service
from openai_assistant_mcp.mcp.tools import runs as run_tools
from openai_assistant_mcp.shapes.runs import RUN_FIELDS, RunSettings
from openai_assistant_mcp.shapes.tools import BUILTIN_TOOL_TYPES, ToolType
from tests.support.engine import engine_settings
from tests.support.spec import load_spec

SCHEMAS = load_spec()["components"]["schemas"]
ASSISTANT = {"id": "asst_1", "model": "m-assistant", "instructions": "Be brief.", "tools": []}


def test_run_fields_are_the_spec_s_run_object() -> None:
    assert set(RUN_FIELDS) == set(SCHEMAS["RunObject"]["properties"])


def test_run_settings_are_request_fields_of_both_run_creates_and_run_fields() -> None:
    for request in ("CreateRunRequest", "CreateThreadAndRunRequest"):
        missing = set(RunSettings.model_fields) - set(SCHEMAS[request]["properties"])
        assert not missing, f"{request} has no {sorted(missing)}"
    for name in RunSettings.model_fields:
        assert RUN_FIELDS[name] is not None, f"{name} is a setting: it needs its rule on a run"


@pytest.mark.parametrize(
    "door",
    [
        run_tools.CreateRun,
        run_tools.CreateThreadAndRun,
        run_schemas.CreateRun,
        run_schemas.CreateThreadAndRun,
    ],
    ids=lambda door: f"{door.__module__.rsplit('.', 2)[-2]}.{door.__name__}",
)
def test_both_doors_take_every_run_setting(door: type[RunSettings]) -> None:
    assert issubclass(door, RunSettings)
    properties = door.model_json_schema()["properties"]
    assert set(RunSettings.model_fields) <= set(properties)
    for name, field in RunSettings.model_fields.items():
        if field.annotation is not Any:  # declared once: each door shows it the same way
            assert door.model_fields[name].annotation == field.annotation, name
        else:  # presented by each door: never left open to any value
            assert door.model_fields[name].annotation is not Any, name


def test_a_new_run_is_built_from_the_declared_fields_in_order() -> None:
    fields = {
        "temperature": 0.25,
        "max_prompt_tokens": 512,
        "parallel_tool_calls": False,
        "additional_instructions": "Cite.",
    }
    body, execution = run_service.build("thread_1", ASSISTANT, fields, expires_after=600)
    assert list(body) == list(RUN_FIELDS)
    assert body["object"] == "thread.run" and body["status"] == "queued"
    assert body["temperature"] == 0.25 and body["max_prompt_tokens"] == 512
    assert body["parallel_tool_calls"] is False
    assert body["model"] == "m-assistant"  # from the assistant
    assert body["instructions"] == "Be brief.\n\nCite."
    # Defaults are fresh copies: one run's truncation_strategy is not another's.
    other, _ = run_service.build("thread_1", ASSISTANT, {}, expires_after=600)
    assert body["truncation_strategy"] == {"type": "auto", "last_messages": None}
    assert body["truncation_strategy"] is not other["truncation_strategy"]
    assert other["top_p"] == 1.0 and other["tool_choice"] == "auto" and other["metadata"] == {}
    assert execution["reasoning_effort"] is None


def test_tool_types_are_the_spec_s() -> None:
    run_tool_types = set()
    for option in SCHEMAS["RunObject"]["properties"]["tools"]["items"]["oneOf"]:
        run_tool_types.update(
            SCHEMAS[option["$ref"].rsplit("/", 1)[-1]]["properties"]["type"]["enum"]
        )
    assert set(get_args(ToolType)) == run_tool_types


def test_the_engine_executes_every_built_in_tool_type(tmp_path: Path) -> None:
    tools = builtin_tools(engine_settings(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}", tmp_path))
    assert all(tools.of_type(name) is not None for name in BUILTIN_TOOL_TYPES)


class Named:
    """A built-in tool of a given type and function name (the list checks only those)."""

    def __init__(self, type: str, function_name: str = "f") -> None:
        self.type = type
        self.function_name = function_name

    def function(self, tool: dict[str, Any]) -> dict[str, Any]:
        return {}

    async def unavailable(self, ctx: BuiltinContext) -> str | None:
        return None

    async def call(self, ctx: BuiltinContext, arguments: str) -> BuiltinResult:
        return BuiltinResult({}, "")


def test_the_built_in_tool_list_refuses_unknown_types_and_duplicates() -> None:
    with pytest.raises(ValueError, match="not one the API knows"):
        BuiltinTools([Named("web_search")])
    with pytest.raises(ValueError, match="two built-in tools"):
        BuiltinTools([Named("file_search", "a"), Named("file_search", "b")])
    with pytest.raises(ValueError, match="two built-in tools"):
        BuiltinTools([Named("file_search", "a"), Named("code_interpreter", "a")])
