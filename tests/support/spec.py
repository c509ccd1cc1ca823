"""The shared OpenAPI spec, and validation of response bodies against its schemas."""

from __future__ import annotations

import copy
import json
import os
import pickle
import re
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).parents[2].parent / "shared/spec/openai-assistants.openapi.yaml"
SPEC_URI = "urn:openai-assistants-spec"

# The spec types `first_id`/`last_id` of lists as plain strings, yet OpenAI answered an empty
# page with nulls (and the SDK types them Optional): accept null there and nowhere else.
_LIST_SCHEMAS_WITH_NULLABLE_CURSORS = (
    "ListAssistantsResponse",
    "ListMessagesResponse",
    "ListRunsResponse",
    "ListRunStepsResponse",
    "ListThreadsResponse",
)

# Properties OpenAI's live API returned although the spec's object schema leaves them out; the
# strict check accepts exactly these (`reasoning_effort` is accepted on create/modify and is
# echoed back, as OpenAI did).
KNOWN_EXTENSIONS: dict[str, frozenset[str]] = {
    "AssistantObject": frozenset({"reasoning_effort"}),
}


@cache
def load_spec() -> dict[str, Any]:
    """The parsed spec, cached as a pickle next to the temp dir (keyed by the file's mtime)."""
    stat = SPEC_PATH.stat()
    cache_path = Path(tempfile.gettempdir()) / (
        f"oam-spec-{stat.st_mtime_ns}-{stat.st_size}-{os.getuid()}.pickle"
    )
    try:
        with cache_path.open("rb") as fh:
            return pickle.load(fh)
    except (OSError, pickle.PickleError, EOFError):
        pass
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open("rb") as fh:
        spec = yaml.load(fh, Loader=loader)
    _patch_errata(spec)
    tmp = cache_path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        pickle.dump(spec, fh)
    os.replace(tmp, cache_path)
    return spec


def _patch_errata(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in _LIST_SCHEMAS_WITH_NULLABLE_CURSORS:
        props = schemas.get(name, {}).get("properties", {})
        for key in ("first_id", "last_id"):
            if key in props:
                props[key] = {"anyOf": [props[key], {"type": "null"}]}


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


def problems(instance: Any, pointer: str, *, strict: bool = True) -> list[str]:
    """Why `instance` does not match the schema at `pointer` (empty when it does).

    `strict` also reports properties the schema does not declare, on the object itself and
    on list items: the spec rarely forbids extra properties, but the API must not invent any."""
    validator = schema_validator(pointer)
    found = [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]
    if strict and not found:
        found += _undeclared(instance, _resolve(pointer), "", pointer)
    return found


def _resolve(pointer: str) -> dict[str, Any]:
    node: Any = load_spec()
    for token in pointer.lstrip("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        node = _resolve(node["$ref"])
    return node


def _undeclared(instance: Any, schema: dict[str, Any], where: str, pointer: str) -> list[str]:
    if "$ref" in schema:
        pointer = schema["$ref"]
        schema = _resolve(pointer)
    if isinstance(instance, dict) and "properties" in schema:
        if schema.get("additionalProperties") not in (None, False):
            return []
        name = pointer.rsplit("/", 1)[-1]
        allowed = set(schema["properties"]) | KNOWN_EXTENSIONS.get(name, frozenset())
        extra = sorted(set(instance) - allowed)
        found = [f"{where or '<root>'}: undeclared property {key!r}" for key in extra]
        for key, value in instance.items():
            sub = schema["properties"].get(key)
            if isinstance(sub, dict):
                found += _undeclared(value, sub, f"{where}/{key}" if where else key, "")
        return found
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        found = []
        for index, item in enumerate(instance):
            found += _undeclared(item, schema["items"], f"{where}/{index}", "")
        return found
    return []


def check_response(
    method: str, path: str, status: int, content_type: str, body: bytes
) -> list[str]:
    """Problems with one HTTP response of the API, judged by the spec (empty when fine).

    Errors (4xx/5xx) must be OpenAI's ErrorResponse; successes must match the documented
    schema of their operation. Event streams are not checked here (their body is a stream)."""
    if content_type.startswith("text/event-stream"):
        return []
    label = f"{method} {path} -> {status}"
    try:
        instance = json.loads(body)
    except ValueError:
        return [f"{label}: body is not JSON: {body[:200]!r}"]
    if status >= 400:
        return [f"{label}: {p}" for p in problems(instance, "#/components/schemas/ErrorResponse")]
    operation = find_operation(method, path)
    if operation is None:
        return [f"{label}: no operation in the spec for this path"]
    pointer = operation.response_pointer(status, content_type.split(";")[0].strip())
    if pointer is None:
        return [f"{label}: status {status} is not documented for {operation.operation_id}"]
    return [f"{label} ({operation.operation_id}): {p}" for p in problems(instance, pointer)]


def schema_copy(name: str) -> dict[str, Any]:
    """A deep copy of a component schema, for tests that want to inspect it."""
    return copy.deepcopy(component(name))
