"""/v1/threads"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ..services import threads, vector_stores
from .deps import CallerDep, State
from .schemas import CreateThread, ModifyThread

router = APIRouter(prefix="/threads")


@router.post("")
async def create_thread(
    state: State, caller: CallerDep, body: Annotated[CreateThread | None, Body()] = None
) -> Any:
    # An empty body is allowed (curl -d ''): an empty thread.
    fields = body.model_dump(exclude_unset=True) if body else {}
    if fields.get("tool_resources"):
        fields["tool_resources"] = await vector_stores.resolve_file_search(
            state, caller.tenant, fields["tool_resources"], caller.api_key
        )
    return await threads.create(state, caller.tenant, fields, caller.api_key)


@router.get("/{thread_id}")
async def retrieve_thread(thread_id: str, state: State, caller: CallerDep) -> Any:
    return await threads.retrieve(state.db, caller.tenant, thread_id)


@router.post("/{thread_id}")
async def modify_thread(
    thread_id: str,
    state: State,
    caller: CallerDep,
    body: Annotated[ModifyThread | None, Body()] = None,
) -> Any:
    fields = body.model_dump(exclude_unset=True) if body else {}
    if fields.get("tool_resources"):
        fields["tool_resources"] = await vector_stores.resolve_file_search(
            state, caller.tenant, fields["tool_resources"], caller.api_key
        )
    return await threads.modify(state.db, caller.tenant, thread_id, fields)


@router.delete("/{thread_id}")
async def delete_thread(thread_id: str, state: State, caller: CallerDep) -> Any:
    return await threads.delete(state.db, caller.tenant, thread_id)
