"""/v1/assistants"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..services import assistants, vector_stores
from .deps import CallerDep, ListQueryDep, State
from .schemas import CreateAssistant, ModifyAssistant

router = APIRouter(prefix="/assistants")


@router.post("")
async def create_assistant(body: CreateAssistant, state: State, caller: CallerDep) -> Any:
    fields = body.model_dump(exclude_unset=True)
    fields["tool_resources"] = await vector_stores.resolve_file_search(
        state, caller.tenant, fields.get("tool_resources"), caller.api_key
    )
    return await assistants.create(state.db, caller.tenant, fields)


@router.get("")
async def list_assistants(state: State, caller: CallerDep, query: ListQueryDep) -> Any:
    return await assistants.list_(state.db, caller.tenant, query)


@router.get("/{assistant_id}")
async def retrieve_assistant(assistant_id: str, state: State, caller: CallerDep) -> Any:
    return await assistants.retrieve(state.db, caller.tenant, assistant_id)


@router.post("/{assistant_id}")
async def modify_assistant(
    assistant_id: str, body: ModifyAssistant, state: State, caller: CallerDep
) -> Any:
    fields = body.model_dump(exclude_unset=True)
    if "tool_resources" in fields:
        fields["tool_resources"] = await vector_stores.resolve_file_search(
            state, caller.tenant, fields["tool_resources"], caller.api_key
        )
    return await assistants.modify(state.db, caller.tenant, assistant_id, fields)


@router.delete("/{assistant_id}")
async def delete_assistant(assistant_id: str, state: State, caller: CallerDep) -> Any:
    return await assistants.delete(state.db, caller.tenant, assistant_id)
