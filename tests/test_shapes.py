"""The API's shapes declared once (src/openai_assistant_mcp/shapes/): they match the spec's
facts, and a field declared there reaches both doors (the MCP tools' arguments and the REST
request bodies) and the object the engine builds (a run, an assistant, a thread, a message),
with no other declaration."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from openai_assistant_mcp.engine.api import run_schemas, schemas
from openai_assistant_mcp.engine.api import vector_store_schemas as store_schemas
from openai_assistant_mcp.engine.builtin_tools import builtin_tools
from openai_assistant_mcp.engine.runs.builtin import BuiltinContext, BuiltinResult, BuiltinTools
from openai_assistant_mcp.engine.services import messages as message_service
from openai_assistant_mcp.engine.services import run_steps as step_service
from openai_assistant_mcp.engine.services import runs as run_service
from openai_assistant_mcp.engine.services.vector_store_files import store_body
from openai_assistant_mcp.mcp.tools import assistants as assistant_tools
from openai_assistant_mcp.mcp.tools import common as tool_args
from openai_assistant_mcp.mcp.tools import messages as message_tools
from openai_assistant_mcp.mcp.tools import runs as run_tools
from openai_assistant_mcp.mcp.tools import threads as thread_tools
from openai_assistant_mcp.mcp.tools import vector_stores as store_tools
from openai_assistant_mcp.shapes.assistants import ASSISTANT_FIELDS, AssistantSettings
from openai_assistant_mcp.shapes.messages import MESSAGE_FIELDS, MessageSettings
from openai_assistant_mcp.shapes.objects import Fields, modified, new_object
from openai_assistant_mcp.shapes.run_steps import RUN_STEP_FIELDS
from openai_assistant_mcp.shapes.runs import RUN_FIELDS, RunSettings
from openai_assistant_mcp.shapes.threads import THREAD_FIELDS, NewThreadSettings, ThreadSettings
from openai_assistant_mcp.shapes.tools import BUILTIN_TOOL_TYPES, ToolType
from openai_assistant_mcp.shapes.vector_stores import (
    HIDDEN,
    READ_FIELDS,
    VECTOR_STORE_FIELDS,
    VectorStoreSettings,
)
from tests.support.engine import engine_settings
from tests.support.spec import KNOWN_EXTENSIONS, load_spec

SCHEMAS = load_spec()["components"]["schemas"]
ASSISTANT = {"id": "asst_1", "model": "m-assistant", "instructions": "Be brief.", "tools": []}


# The fields each object shows, as declared in shapes/.
OBJECTS = {
    "RunObject": set(RUN_FIELDS),
    "AssistantObject": set(ASSISTANT_FIELDS),
    "ThreadObject": set(THREAD_FIELDS),
    "MessageObject": set(MESSAGE_FIELDS),
    "RunStepObject": set(RUN_STEP_FIELDS),
    "VectorStoreObject": set(VECTOR_STORE_FIELDS) - HIDDEN | set(READ_FIELDS),
}


@pytest.mark.parametrize("name", OBJECTS)
def test_each_object_s_fields_are_the_spec_s(name: str) -> None:
    """Every property of the spec's object, and only those (plus the few the live API wrote
    that its spec leaves out: tests/support/spec.py)."""
    spec = set(SCHEMAS[name]["properties"]) | KNOWN_EXTENSIONS.get(name, frozenset())
    assert OBJECTS[name] == spec
    assert set(SCHEMAS[name].get("required", ())) <= OBJECTS[name]


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


# --- assistants, threads, messages ----------------------------------------------------------

# Each request the spec names, with the shape both doors subclass (None: a lone `metadata`,
# declared by each door) and the doors: (MCP tool arguments, REST body). The MCP arguments
# also carry the path's IDs.
REQUESTS: dict[str, tuple[type[BaseModel] | None, type[BaseModel], type[BaseModel]]] = {
    "CreateAssistantRequest": (
        AssistantSettings,
        assistant_tools.CreateAssistant,
        schemas.CreateAssistant,
    ),
    "ModifyAssistantRequest": (
        AssistantSettings,
        assistant_tools.ModifyAssistant,
        schemas.ModifyAssistant,
    ),
    "CreateThreadRequest": (NewThreadSettings, tool_args.NewThread, schemas.CreateThread),
    "ModifyThreadRequest": (ThreadSettings, thread_tools.ModifyThread, schemas.ModifyThread),
    "CreateMessageRequest": (MessageSettings, message_tools.CreateMessage, schemas.CreateMessage),
    "ModifyMessageRequest": (None, message_tools.ModifyMessage, schemas.ModifyMessage),
    "CreateVectorStoreRequest": (
        VectorStoreSettings,
        store_tools.CreateVectorStore,
        store_schemas.CreateVectorStore,
    ),
    "UpdateVectorStoreRequest": (
        VectorStoreSettings,
        store_tools.ModifyVectorStore,
        store_schemas.ModifyVectorStore,
    ),
}
PATH_IDS = {"assistant_id", "thread_id", "message_id", "vector_store_id"}
# Where a door knowingly departs from the spec's request: (request, door) -> the fields it
# takes beyond the spec's (+) or leaves out (-).
DEPARTURES: dict[tuple[str, str], tuple[set[str], set[str]]] = {
    # What a create takes can be changed (CHANGELOG: description on vector stores).
    ("UpdateVectorStoreRequest", "rest"): ({"description"}, set()),
    # The MCP tools have never offered a vector store's description (stored, never shown).
    ("CreateVectorStoreRequest", "mcp"): (set(), {"description"}),
}


@pytest.mark.parametrize("request_name", REQUESTS)
@pytest.mark.parametrize("door", ["mcp", "rest"])
def test_both_doors_take_every_field_of_the_spec_s_request(request_name: str, door: str) -> None:
    shape, mcp_args, rest_body = REQUESTS[request_name]
    model = mcp_args if door == "mcp" else rest_body
    spec = SCHEMAS[request_name]
    taken = set(model.model_json_schema()["properties"]) - PATH_IDS
    beyond, left_out = DEPARTURES.get((request_name, door), (set(), set()))
    expected = set(spec["properties"]) - left_out | beyond
    assert taken == expected, f"{model.__name__} vs {request_name}"
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    if door == "rest":
        assert required == set(spec.get("required", ())), model.__name__
    else:  # the tools may default what REST requires (a message's role: "user")
        assert required - PATH_IDS <= set(spec.get("required", ())), model.__name__
    if shape is None:
        return
    assert issubclass(model, shape)
    for name, field in shape.model_fields.items():
        if field.annotation is not Any:  # declared once: each door shows it the same way
            assert model.model_fields[name].annotation == field.annotation, name
        else:  # presented by each door: never left open to any value
            assert model.model_fields[name].annotation is not Any, name


# What a settings shape takes that is not a field of its object with a rule: a thread's first
# messages (rows of their own), a message's content (turned into content parts).
NOT_SETTINGS = {"messages", "content"}


@pytest.mark.parametrize(
    ("shape", "fields"),
    [
        (AssistantSettings, ASSISTANT_FIELDS),
        (NewThreadSettings, THREAD_FIELDS),
        (MessageSettings, MESSAGE_FIELDS),
        (VectorStoreSettings, VECTOR_STORE_FIELDS),
    ],
    ids=["assistant", "thread", "message", "vector_store"],
)
def test_every_setting_has_its_rule_on_the_object(shape: type[BaseModel], fields: Fields) -> None:
    for name in set(shape.model_fields) - NOT_SETTINGS:
        assert fields[name] is not None, f"{name} is a setting: it needs its rule"


def test_a_new_assistant_is_built_from_the_declared_fields_in_order() -> None:
    written = {"id": "asst_1", "object": "assistant", "created_at": 1}
    body = new_object(ASSISTANT_FIELDS, {"model": "m", "temperature": 0.5}, written)
    assert list(body) == list(ASSISTANT_FIELDS)
    assert body["model"] == "m" and body["temperature"] == 0.5 and body["top_p"] == 1.0
    assert body["tools"] == [] and body["response_format"] == "auto" and body["name"] is None
    # Defaults are fresh copies: one assistant's tools list is not another's.
    other = new_object(ASSISTANT_FIELDS, {"model": "m"}, written)
    assert body["tools"] is not other["tools"]
    # A null on modify resets the field to its default; the rest is kept.
    changed = modified(ASSISTANT_FIELDS, body, {"temperature": None, "name": "n"})
    assert changed["temperature"] == 1.0 and changed["name"] == "n" and changed["model"] == "m"
    assert body["temperature"] == 0.5  # the stored body is not changed in place
    assert list(changed) == list(ASSISTANT_FIELDS)


def test_a_new_thread_is_built_from_the_declared_fields_in_order() -> None:
    written = {"id": "thread_1", "object": "thread", "created_at": 1}
    body = new_object(THREAD_FIELDS, {"metadata": {"k": "v"}, "messages": []}, written)
    assert body == {**written, "tool_resources": {}, "metadata": {"k": "v"}}
    assert list(body) == list(THREAD_FIELDS)
    assert modified(THREAD_FIELDS, body, {"metadata": None})["metadata"] == {}


def test_a_new_message_is_built_from_the_declared_fields_in_order() -> None:
    body = message_service.build("thread_1", {"role": "user", "content": "Hi"}, created_at=7)
    assert list(body) == list(MESSAGE_FIELDS)
    assert body["content"] == [{"type": "text", "text": {"value": "Hi", "annotations": []}}]
    assert body["attachments"] == [] and body["metadata"] == {}
    assert body["status"] == "completed" and body["completed_at"] == 7
    assert body["assistant_id"] is None and body["incomplete_at"] is None


def test_a_new_vector_store_is_built_from_the_declared_fields_in_order() -> None:
    body = store_body({"name": None, "expires_after": {"anchor": "last_active_at", "days": 2}}, 5)
    assert list(body) == list(VECTOR_STORE_FIELDS)
    assert body["name"] == "" and body["metadata"] == {} and body["description"] is None
    assert body["expires_at"] == 5 + 2 * 86400 and body["last_active_at"] == 5
    assert modified(VECTOR_STORE_FIELDS, body, {"name": None, "metadata": None})["name"] == ""


def test_a_new_run_step_is_built_from_the_declared_fields_in_order() -> None:
    run = {"id": "run_1", "thread_id": "thread_1", "assistant_id": "asst_1"}
    step = step_service.message_creation(run, "msg_1")
    assert list(step) == list(RUN_STEP_FIELDS)
    assert step["type"] == "message_creation" and step["status"] == "in_progress"
    assert step["metadata"] == {} and step["usage"] is None and step["completed_at"] is None
