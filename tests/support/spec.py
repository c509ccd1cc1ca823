"""OpenAI's OpenAPI spec as committed facts (with the project's errata), and validation of
response bodies and stream events against its schemas."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pydantic
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# Committed with the tests: nothing here reads outside the repository.
FACTS_PATH = Path(__file__).with_name("spec_facts.json")
SPEC_URI = "urn:openai-assistants-spec"

# The spec types `first_id`/`last_id` of lists as plain strings, yet OpenAI answered an empty
# page with nulls (and the SDK types them Optional): accept null there and nowhere else.
_LIST_SCHEMAS_WITH_NULLABLE_CURSORS = (
    "ListAssistantsResponse",
    "ListFilesResponse",
    "ListMessagesResponse",
    "ListRunsResponse",
    "ListRunStepsResponse",
    "ListThreadsResponse",
    "ListFilesResponse",
    "ListVectorStoresResponse",
    "ListVectorStoreFilesResponse",
)

# Properties OpenAI's live API returned although the spec's object schema leaves them out; the
# strict check accepts exactly these (`reasoning_effort` is accepted on create/modify and is
# echoed back, as OpenAI did).
KNOWN_EXTENSIONS: dict[str, frozenset[str]] = {
    "AssistantObject": frozenset({"reasoning_effort"}),
}


# The project's own routes beside OpenAI's, each under an `x-` name so that no client takes it
# for part of OpenAI's API. Their answers are checked as strictly as OpenAI's, against the
# schemas below (added to the loaded spec by `_with_extensions`, never to spec_facts.json);
# tests/engine/test_routes_match_the_spec.py checks that every route of the app is one or the
# other.
EXTENSION_PATHS = frozenset({"/x-threads"})


def _with_extensions(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    nullable_string = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    last_message = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "role": {"enum": ["user", "assistant"], "type": "string"},
            "created_at": {"type": "integer"},
            "preview": nullable_string,
        },
        "required": ["id", "role", "created_at", "preview"],
        "additionalProperties": False,
    }
    last_run = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "assistant_id": {"type": "string"},
            "status": copy.deepcopy(schemas["RunObject"]["properties"]["status"]),
            "created_at": {"type": "integer"},
        },
        "required": ["id", "assistant_id", "status", "created_at"],
        "additionalProperties": False,
    }
    item = copy.deepcopy(schemas["ThreadObject"])
    item["properties"]["last_message"] = {"anyOf": [last_message, {"type": "null"}]}
    item["properties"]["last_run"] = {"anyOf": [last_run, {"type": "null"}]}
    item["required"] = [*item["required"], "last_message", "last_run"]
    schemas["XThreadListItem"] = item
    nullable_id = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    schemas["XListThreadsResponse"] = {
        "type": "object",
        "properties": {
            "object": {"enum": ["list"], "type": "string"},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/XThreadListItem"}},
            "first_id": nullable_id,
            "last_id": nullable_id,
            "has_more": {"type": "boolean"},
        },
        "required": ["object", "data", "first_id", "last_id", "has_more"],
    }
    ok = {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/XListThreadsResponse"}}
        }
    }
    spec["paths"]["/x-threads"] = {"get": {"operationId": "xListThreads", "responses": {"200": ok}}}
    return spec


@cache
def load_spec() -> dict[str, Any]:
    """The spec's facts (tests/support/spec_facts.json, made by scripts/gen_spec_facts.py from
    OpenAI's spec: names, types, enums, required lists, limits, no prose) with the errata."""
    return _with_extensions(_with_errata(json.loads(FACTS_PATH.read_text(encoding="utf-8"))))


def _with_errata(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    for name in _LIST_SCHEMAS_WITH_NULLABLE_CURSORS:
        props = schemas.get(name, {}).get("properties", {})
        for key in ("first_id", "last_id"):
            if key in props:
                props[key] = {"anyOf": [props[key], {"type": "null"}]}
    # Issue 3 asks for `invalid_api_key` when the provider refuses the key; the spec's enum
    # (server_error, rate_limit_exceeded, invalid_prompt) predates providers other than OpenAI.
    last_error = schemas["RunObject"]["properties"]["last_error"]
    last_error["properties"]["code"]["enum"].append("invalid_api_key")
    # The spec documents a file's content as a JSON string; OpenAI sent the raw bytes as
    # application/octet-stream, which is what the SDK's files.content reads.
    download = spec["paths"].get("/files/{file_id}/content", {}).get("get")
    if download:
        binary = {"schema": {"type": "string", "format": "binary"}}
        download["responses"]["200"]["content"]["application/octet-stream"] = binary
    return _read_nullable(spec)


def _read_nullable(node: Any) -> Any:
    """`node` with OpenAPI 3.0's `nullable: true` spelled as JSON Schema's "or null": the spec
    is 3.1, which dropped the keyword, yet still marks many fields with it (e.g.
    `RunObject.required_action`)."""
    if isinstance(node, list):
        return [_read_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _read_nullable(value) for key, value in node.items()}
    all_of = node.get("allOf")
    if isinstance(all_of, list) and {"nullable": True} in all_of:
        rest = [part for part in all_of if part != {"nullable": True}]
        node = {key: value for key, value in node.items() if key != "allOf"}
        schema = rest[0] if len(rest) == 1 else {"allOf": rest}
        return {**node, "anyOf": [schema, {"type": "null"}]}
    if node.pop("nullable", False) is True:
        return {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _registry() -> Registry:
    resource = Resource.from_contents(load_spec(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


@cache
def schema_validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer`, e.g. '#/components/schemas/ThreadObject'."""
    return Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=_registry())


def component(name: str) -> dict[str, Any]:
    return load_spec()["components"]["schemas"][name]


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    pattern: re.Pattern[str]
    literal_segments: int

    def response_pointer(self, status: int, content_type: str = "application/json") -> str | None:
        """JSON pointer of the schema documented for `status`, or None if none is."""
        responses = load_spec()["paths"][self.template][self.method]["responses"]
        response = responses.get(str(status))
        if response is None or "$ref" in response:
            return None
        schema = response.get("content", {}).get(content_type, {}).get("schema")
        if schema is None:
            return None
        ref = schema.get("$ref")
        if ref:
            return ref
        where = f"{_escape(self.template)}/{self.method}/responses/{status}"
        return f"#/paths/{where}/content/{_escape(content_type)}/schema"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@cache
def operations() -> tuple[Operation, ...]:
    found = []
    for template, item in load_spec()["paths"].items():
        segments = template.strip("/").split("/")
        regex = "/".join("[^/]+" if s.startswith("{") else re.escape(s) for s in segments)
        literal = sum(1 for s in segments if not s.startswith("{"))
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                pattern = re.compile(f"^/{regex}$")
                found.append(Operation(method, template, op["operationId"], pattern, literal))
    return tuple(found)


def find_operation(method: str, path: str) -> Operation | None:
    """The spec operation for a request path below /v1 (literal segments beat parameters)."""
    if path.startswith("/v1/"):
        path = path[3:]
    matches = [op for op in operations() if op.method == method.lower() and op.pattern.match(path)]
    return max(matches, key=lambda op: op.literal_segments) if matches else None


def problems(instance: Any, schema: str, *, strict: bool = True) -> list[str]:
    """Why `instance` does not match `schema`, a component name or a JSON pointer (empty when
    it does).

    `strict` also reports properties the schema does not declare, at any depth and through
    anyOf/oneOf/allOf: the spec rarely forbids extra properties, but the API must not invent
    any."""
    pointer = schema if schema.startswith("#") else f"#/components/schemas/{schema}"
    validator = schema_validator(pointer)
    found = [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]
    if strict and not found:
        found += _undeclared(instance, pointer, "")
    return found


@cache
def _node(pointer: str) -> Any:
    node: Any = load_spec()
    for token in pointer.lstrip("#/").split("/"):
        node = node[
            int(token) if isinstance(node, list) else token.replace("~1", "/").replace("~0", "~")
        ]
    return node


def _undeclared(instance: Any, pointer: str, where: str) -> list[str]:
    """Properties of `instance` (which matches the schema at `pointer`) that the schema does
    not declare; with anyOf/oneOf, judged by the matching branch that declares the most."""
    schema = _node(pointer)
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        return _undeclared(instance, schema["$ref"], where)
    branches = [
        f"{pointer}/{key}/{i}"
        for key in ("anyOf", "oneOf")
        for i in range(len(schema.get(key, [])))
    ]
    if branches:
        results = [
            _undeclared(instance, branch, where)
            for branch in branches
            if schema_validator(branch).is_valid(instance)
        ]
        return min(results, key=len) if results else []
    if isinstance(instance, dict):
        declared = _declared_properties(pointer)
        if declared is None:
            return []
        found = [
            f"{where or '<root>'}: undeclared property {key!r}"
            for key in sorted(set(instance) - set(declared))
        ]
        for key, value in instance.items():
            sub = declared.get(key)
            if sub is not None:
                found += _undeclared(value, sub, f"{where}/{key}" if where else key)
        return found
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [
            problem
            for index, item in enumerate(instance)
            for problem in _undeclared(item, f"{pointer}/items", f"{where}/{index}")
        ]
    return []


@cache
def _declared_properties(pointer: str) -> dict[str, str | None] | None:
    """The properties an object of the schema at `pointer` may have, each with its schema's
    pointer (None for KNOWN_EXTENSIONS), merged over allOf parts; None when any is allowed."""
    schema = _node(pointer)
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return _declared_properties(schema["$ref"])
    if schema.get("additionalProperties") not in (None, False):
        return None
    declared: dict[str, str | None] = {}
    for index in range(len(schema.get("allOf", []))):
        declared.update(_declared_properties(f"{pointer}/allOf/{index}") or {})
    if "properties" not in schema and not declared:
        return None
    for key in schema.get("properties", {}):
        declared[key] = f"{pointer}/properties/{_escape(key)}"
    name = pointer.removeprefix("#/components/schemas/")
    for key in KNOWN_EXTENSIONS.get(name, frozenset()):
        declared.setdefault(key, None)
    return declared


def check_response(
    method: str, path: str, status: int, content_type: str, body: bytes
) -> list[str]:
    """Problems with one HTTP response of the API, judged by the spec (empty when fine).

    Errors (4xx/5xx) must be OpenAI's ErrorResponse; successes must match the documented
    schema of their operation. Event streams are checked event by event (`event_problems`)."""
    if content_type.startswith("text/event-stream"):
        return []
    label = f"{method} {path} -> {status}"
    try:
        instance = json.loads(body)
    except ValueError:
        return [f"{label}: body is not JSON: {body[:200]!r}"]
    if status >= 400:
        return [f"{label}: {p}" for p in problems(instance, "ErrorResponse")]
    operation = find_operation(method, path)
    if operation is None:
        return [f"{label}: no operation in the spec for this path"]
    pointer = operation.response_pointer(status, content_type.split(";")[0].strip())
    if pointer is None:
        return [f"{label}: status {status} is not documented for {operation.operation_id}"]
    found = problems(instance, pointer) + sdk_problems(instance)
    return [f"{label} ({operation.operation_id}): {p}" for p in found]


@cache
def _sdk_models() -> dict[str, type[pydantic.BaseModel]]:
    """The official openai SDK's model for each `object` value the API answers with."""
    from openai.types import (
        Embedding,
        FileDeleted,
        FileObject,
        Upload,
        VectorStore,
        VectorStoreDeleted,
    )
    from openai.types.beta import Assistant, AssistantDeleted, Thread, ThreadDeleted
    from openai.types.beta.threads import Message, MessageDeleted, Run
    from openai.types.beta.threads.runs import RunStep
    from openai.types.vector_stores import (
        VectorStoreFile,
        VectorStoreFileBatch,
        VectorStoreFileDeleted,
    )

    return {
        "assistant": Assistant,
        "assistant.deleted": AssistantDeleted,
        "thread": Thread,
        "thread.deleted": ThreadDeleted,
        "thread.message": Message,
        "thread.message.deleted": MessageDeleted,
        "thread.run": Run,
        "thread.run.step": RunStep,
        "file": FileObject,
        "upload": Upload,
        "vector_store": VectorStore,
        "vector_store.deleted": VectorStoreDeleted,
        "vector_store.file": VectorStoreFile,
        "vector_store.file.deleted": VectorStoreFileDeleted,
        "vector_store.files_batch": VectorStoreFileBatch,
        "file.deleted": FileDeleted,  # OpenAI answers `object: "file"` with `deleted`
        "embedding": Embedding,
    }


def sdk_problems(instance: Any) -> list[str]:
    """Why the official openai SDK's model of `instance` (chosen by its `object`, each item of
    a list) refuses it in strict validation (no type coercion); empty when it accepts it."""
    if not isinstance(instance, dict):
        return []
    if instance.get("object") == "list":
        found: list[str] = []
        for index, item in enumerate(instance.get("data") or []):
            found += [f"data/{index}/{p}" for p in sdk_problems(item)]
        return found
    kind = str(instance.get("object"))
    if kind == "file" and "deleted" in instance:
        kind = "file.deleted"
    model = _sdk_models().get(kind)
    if model is None:
        return []
    try:
        model.model_validate(instance, strict=True)
    except pydantic.ValidationError as exc:
        return [
            f"openai.{model.__name__} (strict): {'/'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors()
            if not _sdk_erratum(e)
        ]
    return []


# The errata above, as the SDK's models see them: (end of the error's location, values).
_SDK_ERRATA: tuple[tuple[tuple[str, ...], frozenset[Any]], ...] = (
    (("last_error", "code"), frozenset({"invalid_api_key"})),
)


def _sdk_erratum(error: Any) -> bool:
    """Whether the SDK refuses a value the project's errata accept on purpose."""
    loc = tuple(str(part) for part in error["loc"])
    return any(
        loc[-len(tail) :] == tail and error.get("input") in values for tail, values in _SDK_ERRATA
    )


def event_problems(event: str, data: str) -> list[str]:
    """Why one server-sent event is not an AssistantStreamEvent (empty when it is)."""
    payload: Any = data if event == "done" else json.loads(data)
    return [
        f"{event}: {p}" for p in problems({"event": event, "data": payload}, "AssistantStreamEvent")
    ]


def schema_copy(name: str) -> dict[str, Any]:
    """A deep copy of a component schema, for tests that want to inspect it."""
    return copy.deepcopy(component(name))
