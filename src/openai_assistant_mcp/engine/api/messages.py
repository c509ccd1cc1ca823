"""/v1/threads/{thread_id}/messages"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ..services import messages
from .deps import CallerDep, ListQueryDep, State
from .schemas import CreateMessage, ModifyMessage

router = APIRouter(prefix="/threads/{thread_id}/messages")


@router.post("")
async def create_message(
    thread_id: str, body: CreateMessage, state: State, caller: CallerDep
) -> Any:
    fields = body.model_dump(exclude_unset=True)
    return await messages.create(state, caller.tenant, thread_id, fields, caller.api_key)


@router.get("")
async def list_messages(
    thread_id: str,
    state: State,
    caller: CallerDep,
    query: ListQueryDep,
    run_id: str | None = None,
) -> Any:
    return await messages.list_(state.db, caller.tenant, thread_id, query, run_id=run_id)


@router.get("/{message_id}")
async def retrieve_message(thread_id: str, message_id: str, state: State, caller: CallerDep) -> Any:
    return await messages.retrieve(state.db, caller.tenant, thread_id, message_id)


@router.post("/{message_id}")
async def modify_message(
    thread_id: str,
    message_id: str,
    state: State,
    caller: CallerDep,
    body: Annotated[ModifyMessage | None, Body()] = None,
) -> Any:
    fields = body.model_dump(exclude_unset=True) if body else {}
    return await messages.modify(state.db, caller.tenant, thread_id, message_id, fields)


@router.delete("/{message_id}")
async def delete_message(thread_id: str, message_id: str, state: State, caller: CallerDep) -> Any:
    return await messages.delete(state.db, caller.tenant, thread_id, message_id)
