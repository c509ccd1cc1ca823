"""/v1/vector_stores: stores, their files, file batches and search."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from ..services import vector_store_files as files
from ..services import vector_stores as stores
from .deps import CallerDep, ListQueryDep, State
from .vector_store_schemas import (
    CreateFileBatch,
    CreateVectorStore,
    CreateVectorStoreFile,
    ModifyVectorStore,
    SearchVectorStore,
    UpdateFileAttributes,
)

router = APIRouter(prefix="/vector_stores")
FileStatus = Literal["in_progress", "completed", "failed", "cancelled"]


@router.post("")
async def create_vector_store(body: CreateVectorStore, state: State, caller: CallerDep) -> Any:
    fields = body.model_dump(exclude_unset=True)
    return await stores.create(state, caller.tenant, fields, caller.api_key)


@router.get("")
async def list_vector_stores(state: State, caller: CallerDep, query: ListQueryDep) -> Any:
    return await stores.list_(state, caller.tenant, query)


@router.get("/{vector_store_id}")
async def retrieve_vector_store(vector_store_id: str, state: State, caller: CallerDep) -> Any:
    return await stores.retrieve(state, caller.tenant, vector_store_id)


@router.post("/{vector_store_id}")
async def modify_vector_store(
    vector_store_id: str, body: ModifyVectorStore, state: State, caller: CallerDep
) -> Any:
    fields = body.model_dump(exclude_unset=True)
    return await stores.modify(state, caller.tenant, vector_store_id, fields)


@router.delete("/{vector_store_id}")
async def delete_vector_store(vector_store_id: str, state: State, caller: CallerDep) -> Any:
    return await stores.delete(state, caller.tenant, vector_store_id)


@router.post("/{vector_store_id}/search")
async def search_vector_store(
    vector_store_id: str, body: SearchVectorStore, state: State, caller: CallerDep
) -> Any:
    fields = body.model_dump(exclude_unset=True)
    return await stores.search_page(state, caller.tenant, vector_store_id, fields, caller.api_key)


# --- files -------------------------------------------------------------------------------------


@router.post("/{vector_store_id}/files")
async def create_vector_store_file(
    vector_store_id: str, body: CreateVectorStoreFile, state: State, caller: CallerDep
) -> Any:
    return await files.add_file_to_store(
        state,
        caller.tenant,
        vector_store_id,
        body.file_id,
        chunking_strategy=body.model_dump(exclude_unset=True).get("chunking_strategy"),
        attributes=body.attributes,
        api_key=caller.api_key,
    )


@router.get("/{vector_store_id}/files")
async def list_vector_store_files(
    vector_store_id: str,
    state: State,
    caller: CallerDep,
    query: ListQueryDep,
    filter: FileStatus | None = None,
) -> Any:
    return await files.list_(state, caller.tenant, vector_store_id, query, filter)


@router.get("/{vector_store_id}/files/{file_id}")
async def retrieve_vector_store_file(
    vector_store_id: str, file_id: str, state: State, caller: CallerDep
) -> Any:
    return await files.retrieve(state, caller.tenant, vector_store_id, file_id)


@router.post("/{vector_store_id}/files/{file_id}")
async def update_vector_store_file(
    vector_store_id: str,
    file_id: str,
    body: UpdateFileAttributes,
    state: State,
    caller: CallerDep,
) -> Any:
    return await files.update_attributes(
        state, caller.tenant, vector_store_id, file_id, body.attributes
    )


@router.delete("/{vector_store_id}/files/{file_id}")
async def delete_vector_store_file(
    vector_store_id: str, file_id: str, state: State, caller: CallerDep
) -> Any:
    return await files.delete(state, caller.tenant, vector_store_id, file_id)


@router.get("/{vector_store_id}/files/{file_id}/content")
async def vector_store_file_content(
    vector_store_id: str, file_id: str, state: State, caller: CallerDep
) -> Any:
    return await files.content(state, caller.tenant, vector_store_id, file_id)


# --- file batches ------------------------------------------------------------------------------


@router.post("/{vector_store_id}/file_batches")
async def create_file_batch(
    vector_store_id: str, body: CreateFileBatch, state: State, caller: CallerDep
) -> Any:
    fields = body.model_dump(exclude_unset=True)
    if not fields.get("file_ids") and not fields.get("files"):
        from ..errors import invalid

        raise invalid("file_ids", "Missing required parameter: 'file_ids' (or 'files').")
    return await files.create_batch(state, caller.tenant, vector_store_id, fields, caller.api_key)


@router.get("/{vector_store_id}/file_batches/{batch_id}")
async def retrieve_file_batch(
    vector_store_id: str, batch_id: str, state: State, caller: CallerDep
) -> Any:
    return await files.retrieve_batch(state, caller.tenant, vector_store_id, batch_id)


@router.post("/{vector_store_id}/file_batches/{batch_id}/cancel")
async def cancel_file_batch(
    vector_store_id: str, batch_id: str, state: State, caller: CallerDep
) -> Any:
    return await files.cancel_batch(state, caller.tenant, vector_store_id, batch_id)


@router.get("/{vector_store_id}/file_batches/{batch_id}/files")
async def list_file_batch_files(
    vector_store_id: str,
    batch_id: str,
    state: State,
    caller: CallerDep,
    query: ListQueryDep,
    filter: FileStatus | None = None,
) -> Any:
    return await files.list_(state, caller.tenant, vector_store_id, query, filter, batch_id)
