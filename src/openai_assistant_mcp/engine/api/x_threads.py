"""/v1/x-threads: the caller's threads, a page at a time. An extension: OpenAI's Assistants API
lists no threads, so this lives under its own `x-` name rather than answering `GET /v1/threads`,
where a client written for OpenAI could take it for part of that API (docs/console.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..services import threads
from .deps import CallerDep, ListQueryDep, State

router = APIRouter(prefix="/x-threads")


@router.get("")
async def list_threads(state: State, caller: CallerDep, query: ListQueryDep) -> Any:
    return await threads.list_with_summaries(state.db, caller.tenant, query)
