"""Spec validation for run objects and stream events, reading OpenAPI 3.0's `nullable` right.

The shared spec is OpenAPI 3.1 yet still marks many run fields `nullable: true` (a 3.0 keyword
JSON Schema ignores), so plain validation would refuse the nulls the spec documents. This
validates against a copy of the spec where `nullable: true` means "or null"."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.spec import load_spec

URI = "urn:openai-assistants-spec-nullable"


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    all_of = node.get("allOf")
    if isinstance(all_of, list) and {"nullable": True} in all_of:
        rest = [part for part in all_of if part != {"nullable": True}]
        node = {k: v for k, v in node.items() if k != "allOf"}
        return {**node, "anyOf": [{"allOf": rest}, {"type": "null"}]}
    if node.pop("nullable", False) is True:
        return {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _registry() -> Registry:
    spec = _nullable(copy.deepcopy(load_spec()))
    return Registry().with_resource(URI, Resource.from_contents(spec, DRAFT202012))


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{URI}#/components/schemas/{name}"}, registry=_registry())


def problems(instance: Any, schema: str) -> list[str]:
    """Why `instance` does not match components/schemas/`schema` (empty when it does)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in _validator(schema).iter_errors(instance)
    ]


def event_problems(event: str, data: str) -> list[str]:
    """Why one server-sent event is not an AssistantStreamEvent (empty when it is)."""
    payload: Any = data if event == "done" else json.loads(data)
    found = problems({"event": event, "data": payload}, "AssistantStreamEvent")
    if found:  # oneOf reports little; say which branch was meant
        return [f"{event}: {p}" for p in found]
    return []
