"""Request dependencies: the engine's state, the caller, and list query parameters."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from ...http.credentials import bearer
from ..errors import invalid
from ..services.common import ListQuery
from ..state import EngineState


@dataclass(frozen=True)
class Caller:
    """Who is calling: their tenant ID, and their key for the provider (memory only)."""

    tenant: str
    api_key: str | None


# Dependencies are `async def` although they never await: FastAPI runs plain `def` ones in a
# worker thread, a thread hop per dependency per request.


async def engine_state(request: Request) -> EngineState:
    state: EngineState = request.app.state.engine
    return state


async def caller(request: Request) -> Caller:
    api_key = bearer(request.headers.get("authorization"))
    return Caller(request.app.state.engine.hasher.tenant_for(api_key), api_key)


async def list_query(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
    before: str | None = None,
) -> ListQuery:
    return ListQuery(limit=limit, order=order, after=after, before=before)


class _NonFinite:
    """Stands in for NaN/Infinity while looking for them in a parsed body."""


def _text_problem(text: str) -> str | None:
    """Why the store cannot keep `text` (None when it can)."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # e.g. "\ud800" on its own
        return "contains an unpaired surrogate"
    return None


MAX_DEPTH = 100  # nesting deeper than this could not be stored or answered without recursion


def _first_problem(value: Any, path: str = "", depth: int = 0) -> tuple[str, str] | None:
    """(path, reason) of the first value the store cannot keep; path '' is the body."""
    if isinstance(value, str):
        problem = _text_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, _NonFinite):
        return path, "NaN and Infinity are not JSON numbers"
    if depth > MAX_DEPTH:  # named by its top-level field: the full path would be huge
        return re.split(r"[.\[]", path, maxsplit=1)[0], f"nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _text_problem(key)
            if problem:
                return path, f"a key {problem}"
            found = _first_problem(item, f"{path}.{key}" if path else str(key), depth + 1)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_problem(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
    return None


# Bodies larger than this are looked at in a thread, off the event loop.
INLINE_LOOK_BYTES = 64 * 1024


def _problem_in(body: bytes) -> tuple[str, str] | None:
    try:
        data = json.loads(body, parse_constant=lambda _: _NonFinite())
    except (ValueError, RecursionError):
        return None  # not JSON (or absurdly deep): the body's own parsing refuses it
    return _first_problem(data)


def _needs_a_closer_look(body: bytes) -> bool:
    """Cheap screen: the refused values can only arrive as \\u escapes, the bare words
    NaN/Infinity, or many brackets."""
    return (
        b"\\u" in body
        or b"NaN" in body
        or b"Infinity" in body
        or body.count(b"{") + body.count(b"[") > MAX_DEPTH
    )


# Every object ID and cursor: what new_id makes (and OpenAI's own IDs, e.g. file-...), bounded.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ID_QUERY_PARAMS = {"after", "before"}


def _is_id(name: str) -> bool:
    return name.endswith("_id") or name in _ID_QUERY_PARAMS


async def reject_unstorable_input(request: Request) -> None:
    """Refuse (400) what the store cannot keep or the API cannot answer with: NUL characters
    and unpaired surrogates (PostgreSQL rejects both), NaN/Infinity (not JSON numbers),
    nesting deeper than MAX_DEPTH, and IDs or cursors not shaped as IDs (ID_PATTERN)."""
    params = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in params:
        problem = _text_problem(name) or _text_problem(value)
        if problem:
            raise invalid(name, f"Invalid '{name}': {problem}.")
        if _is_id(name) and not ID_PATTERN.fullmatch(value):
            raise invalid(
                name,
                f"Invalid '{name}': an ID is 1 to 128 letters, digits, '_' or '-'.",
                code="invalid_id",
            )
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type:
        return  # uploads (multipart, octet-stream) are streamed by their routes, not read here
    body = await request.body()
    if not body or not _needs_a_closer_look(body):
        return
    if len(body) > INLINE_LOOK_BYTES:  # walking 100,000 items took the loop 1.2 s of CPU
        found = await asyncio.to_thread(_problem_in, body)
    else:
        found = _problem_in(body)
    if found:
        path, problem = found
        raise invalid(path or None, f"Invalid '{path or 'body'}': {problem}.")


State = Annotated[EngineState, Depends(engine_state)]
CallerDep = Annotated[Caller, Depends(caller)]
ListQueryDep = Annotated[ListQuery, Depends(list_query)]
