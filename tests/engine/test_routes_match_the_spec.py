"""Every route the engine serves is an operation of OpenAI's spec or one of the project's own
extensions, declared as such (tests/support/spec.py, EXTENSION_PATHS) and named with an `x-`
path segment, so that no extension poses as part of OpenAI's API."""

from __future__ import annotations

from openai_assistant_mcp.engine.app import create_app
from tests.support.spec import EXTENSION_PATHS, find_operation, load_spec


def _routes() -> list[tuple[str, str]]:
    """(method, path template) of every API route, as the app's own OpenAPI document lists
    them (FastAPI's route objects are an internal detail that changed between versions)."""
    return [
        (method.upper(), path)
        for path, item in create_app().openapi()["paths"].items()
        for method in item
    ]


def test_every_route_is_in_the_spec_or_a_declared_extension() -> None:
    routes = _routes()
    assert ("GET", "/v1/x-threads") in routes
    unknown = [
        f"{method} {path}" for method, path in routes if find_operation(method, path) is None
    ]
    assert unknown == []


def test_extensions_are_named_as_such_and_not_in_openais_paths() -> None:
    openai_paths = set(load_spec()["paths"]) - EXTENSION_PATHS
    for path in EXTENSION_PATHS:
        assert path not in openai_paths
        assert any(segment.startswith("x-") for segment in path.strip("/").split("/")), path
