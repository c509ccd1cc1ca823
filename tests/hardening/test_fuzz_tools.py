"""Property-based fuzzing of tool calls over one real MCP session (streamable HTTP, embedded
engine, the scripted provider as model).

Arguments come from each tool's own input schema as the server lists it (`from_schema` below
covers the JSON Schema keywords those schemas use), with IDs sometimes swapped for real ones
so calls reach past "not found"; and from a hostile variant: the schema's argument names with
arbitrary JSON values (wrong types, NUL characters, lone surrogates, deep nesting) plus unknown
names. Every answer must be a result or a one-line tool error that is not an internal error;
the session must be alive at the end."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from tests.hardening.conftest import ServerPool
from tests.mcp.servers import streamable_client
from tests.mcp.workflow import call

EXAMPLES = 300


class SessionThread:
    """One MCP client session kept open in a thread with its own event loop, so hypothesis
    (synchronous) can drive it call by call."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.client: Client | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(self._hold(),))
        self._thread.start()
        if not self._ready.wait(60) or self.client is None:
            raise RuntimeError("the MCP session did not open")

    async def _hold(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with streamable_client(self.url) as client:
                self.client = client
                self._ready.set()
                await self._stop.wait()
        finally:
            self._ready.set()

    def run(self, coroutine: Any, timeout: float = 120) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self.loop.close()


@pytest.fixture(scope="module")
def session(pool: ServerPool) -> Iterator[SessionThread]:
    held = SessionThread(pool.get("open-http").url("/mcp"))
    yield held
    held.close()


@pytest.fixture(scope="module")
def tools(session: SessionThread) -> dict[str, dict[str, Any]]:
    assert session.client is not None
    listing = session.run(session.client.list_tools())
    return {tool.name: tool.input_schema for tool in listing.tools}


@pytest.fixture(scope="module")
def real_ids(session: SessionThread) -> dict[str, list[str]]:
    """IDs of real objects, for arguments named after them."""
    client = session.client
    assert client is not None

    async def make() -> dict[str, list[str]]:
        assistant = await call(client, "create_assistant", {"model": "fuzz-model"})
        thread = await call(client, "create_thread", {"messages": [{"content": "seed"}]})
        done = await call(
            client, "create_run", {"thread_id": thread["id"], "assistant_id": assistant["id"]}
        )
        steps = await call(
            client, "list_run_steps", {"thread_id": thread["id"], "run_id": done["run"]["id"]}
        )
        file = await call(client, "upload_file", {"content": "fuzz me", "filename": "f.txt"})
        return {
            "assistant_id": [assistant["id"]],
            "thread_id": [thread["id"]],
            "message_id": [m["id"] for m in done["messages"]],
            "run_id": [done["run"]["id"]],
            "step_id": [s["id"] for s in steps["data"]],
            "file_id": [file["id"]],
        }

    return session.run(make())


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": [value]}
    return value


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(codec=None), max_size=40)  # NUL, lone surrogates, ...
    | st.sampled_from(["", "asst_", "thread_x", "../../etc/passwd", "' OR 1=1 --", "\u202e"])
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
) | st.builds(_nested, st.integers(40, 60))  # past the engine's 100 levels


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for `schema` (the keywords the tools' schemas use). Long strings are drawn
    short, with the longest allowed one now and then, so boundaries get hit too."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    if "anyOf" in schema:
        return st.one_of([from_schema(option) for option in schema["anyOf"]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}) for k in kind])
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        longest, shortest = schema.get("maxLength"), schema.get("minLength", 0)
        short = st.text(min_size=shortest, max_size=max(shortest, min(longest or 60, 60)))
        return short if longest is None else st.one_of(short, short, st.just("x" * longest))
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum")
        if kind == "integer":
            return st.integers(low, high)
        exclude = "exclusiveMinimum" in schema
        return st.floats(low, high, exclude_min=exclude, allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(
            from_schema(schema.get("items", {})),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 4), 4),
        )
    if kind == "object" or "properties" in schema:
        return _object(schema)
    return st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=5)


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fixed = st.fixed_dictionaries(
        {name: from_schema(sub) for name, sub in properties.items() if name in required},
        optional={
            name: from_schema(sub) for name, sub in properties.items() if name not in required
        },
    )
    extra = schema.get("additionalProperties", True)
    if extra is False or properties:
        return fixed
    names = st.text(max_size=(schema.get("propertyNames") or {}).get("maxLength", 20))
    values = from_schema(extra) if isinstance(extra, dict) else JSON_SCALARS
    return st.dictionaries(names, values, max_size=min(schema.get("maxProperties", 4), 4))


def _arguments(schema: dict[str, Any], ids: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    names = sorted(schema.get("properties", {}))
    valid = from_schema(schema).flatmap(lambda args: _with_real_ids(args, ids))
    hostile = st.dictionaries(
        st.sampled_from(names) | st.text(max_size=10) if names else st.text(max_size=10),
        ANY_JSON,
        max_size=5,
    )
    return st.one_of(valid, valid, hostile)


def _with_real_ids(args: dict[str, Any], ids: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    swaps = {
        name: st.one_of(st.just(value), st.sampled_from(ids[name]), st.sampled_from(ids[name]))
        for name, value in args.items()
        if ids.get(name)
    }
    return st.fixed_dictionaries(swaps).map(lambda chosen: {**args, **chosen})


def test_tool_calls_fuzzed_from_their_schemas(
    session: SessionThread, tools: dict[str, dict[str, Any]], real_ids: dict[str, list[str]]
) -> None:
    client = session.client
    assert client is not None
    outcomes: Counter[str] = Counter()
    errors_seen: Counter[str] = Counter()
    failures: list[str] = []
    strategy = st.sampled_from(sorted(tools)).flatmap(
        # Deletes get no real IDs: the objects the other calls aim at stay.
        lambda name: st.tuples(
            st.just(name), _arguments(tools[name], {} if name.startswith("delete_") else real_ids)
        )
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one_call(case: tuple[str, dict[str, Any]]) -> None:
        name, arguments = case
        if name in ("create_run", "create_thread_and_run", "submit_tool_outputs"):
            arguments = {**arguments, "timeout": 5} if isinstance(arguments, dict) else arguments
        try:
            result = session.run(client.call_tool(name, arguments), timeout=60)
        except Exception as exc:  # a protocol error or a dead session: a crash
            failures.append(f"{name}({arguments!r:.200}): {type(exc).__name__}: {exc}")
            outcomes["crash"] += 1
            return
        text = result.content[0].text if result.content else ""
        if result.is_error:
            outcomes["tool error"] += 1
            errors_seen[text[:60]] += 1
            if "Internal error" in text or "\n" in text or not text:
                failures.append(f"{name}({arguments!r:.200}): unclear error {text!r:.300}")
        else:
            outcomes["result"] += 1
            if not isinstance(result.structured_content, dict):
                failures.append(f"{name}({arguments!r:.200}): no structured result")

    one_call()
    alive = session.run(call(client, "list_assistants", {"limit": 1}))
    assert "data" in alive
    total = sum(outcomes.values())
    print(
        f"\nfuzzed {total} tool calls over one MCP session: {outcomes['result']} results, "
        f"{outcomes['tool error']} clear tool errors, {outcomes['crash']} crashes; session alive"
    )
    print("most common tool errors:", errors_seen.most_common(5))
    assert failures == [], "\n".join(failures[:20])
    assert total >= EXAMPLES * 0.9
