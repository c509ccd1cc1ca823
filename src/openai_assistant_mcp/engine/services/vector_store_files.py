"""Vector store files and file batches: attach (queues ingestion), list, retrieve, update
attributes, delete, parsed content; batches create, retrieve, cancel, list files."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ...shapes.objects import new_object
from ...shapes.vector_stores import VECTOR_STORE_FIELDS
from ..errors import APIError, invalid, not_found
from ..ids import new_id
from ..state import EngineState
from ..store import repository
from ..store import vector_repository as repo
from ..vectors.text import AUTO_MAX_TOKENS, AUTO_OVERLAP_TOKENS
from .common import ListQuery, list_objects, now

MAX_FILES_PER_STORE = 10_000


def strategy_of(requested: dict[str, Any] | None) -> dict[str, Any]:
    """The chunking strategy a file reports: `auto` is static 800/400 (as OpenAI reported)."""
    if requested and requested.get("type") == "static":
        static = requested["static"]
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": static["max_chunk_size_tokens"],
                "chunk_overlap_tokens": static["chunk_overlap_tokens"],
            },
        }
    return {
        "type": "static",
        "static": {
            "max_chunk_size_tokens": AUTO_MAX_TOKENS,
            "chunk_overlap_tokens": AUTO_OVERLAP_TOKENS,
        },
    }


def build_file_row(
    tenant: str,
    store_id: str,
    file_id: str,
    strategy: dict[str, Any],
    attributes: dict[str, Any] | None,
    batch_id: str | None,
) -> dict[str, Any]:
    """A vector store file row, queued for ingestion."""
    created_at = now()
    body = {
        "id": file_id,
        "object": "vector_store.file",
        "usage_bytes": 0,
        "created_at": created_at,
        "vector_store_id": store_id,
        "status": "in_progress",
        "last_error": None,
        "chunking_strategy": strategy,
        "attributes": attributes or {},
    }
    return {
        "id": file_id,
        "tenant": tenant,
        "vector_store_id": store_id,
        "batch_id": batch_id,
        "status": "in_progress",
        "usage_bytes": 0,
        "created_at": created_at,
        "attempts": 0,
        "body": body,
    }


async def require_files(state: EngineState, tenant: str, file_ids: list[str], param: str) -> None:
    """Every file must exist for the tenant (another tenant's answers as a missing one)."""
    from ..store import file_store

    if not file_ids:
        return
    async with state.db.read() as conn:
        found = await file_store.existing_file_ids(conn, tenant, file_ids, now())
    for index, file_id in enumerate(file_ids):
        if file_id not in found:
            raise invalid(f"{param}[{index}]", f"No file found with id '{file_id}'.")


def file_reader(state: EngineState) -> Any:
    """The ingestion worker's access to a file: (filename, bytes), LookupError when gone."""
    from ..vectors.text import ExtractionError
    from . import files

    async def read(tenant: str, file_id: str, max_bytes: int) -> tuple[str, bytes]:
        try:
            body = await files.retrieve_file(state, tenant, file_id)
        except APIError:
            raise LookupError(file_id) from None
        if body["bytes"] > max_bytes:
            raise ExtractionError(
                "invalid_file",
                f"The file has {body['bytes']} bytes; at most {max_bytes} are indexed.",
            )
        try:
            data = await files.read_file_bytes(state, tenant, file_id, max_bytes)
        except APIError:
            raise LookupError(file_id) from None
        return body["filename"], data

    return read


async def _store_exists(state: EngineState, tenant: str, store_id: str) -> None:
    async with state.db.read_keyed() as conn:
        if await repository.get_object(conn, repo.STORES, tenant, store_id) is None:
            raise not_found("vector store", store_id)


async def _require_store(conn: AsyncConnection, tenant: str, store_id: str) -> dict[str, Any]:
    body = await repository.get_for_update(conn, repo.STORES, tenant, store_id)
    if body is None:
        raise not_found("vector store", store_id)
    return body


async def _attach(
    state: EngineState,
    tenant: str,
    store_id: str,
    entries: list[tuple[str, dict[str, Any], dict[str, Any] | None]],
    batch_id: str | None,
    api_key: str | None,
    batch_body: dict[str, Any] | None = None,
) -> list[str]:
    """Queue (file_id, strategy, attributes) entries not yet in the store; their IDs."""
    async with state.db.write() as conn:
        await _require_store(conn, tenant, store_id)
        present = await repo.existing_file_ids(conn, store_id, [e[0] for e in entries])
        new = [e for e in entries if e[0] not in present]
        total = await repo.count_files(conn, store_id) + len(new)
        if total > MAX_FILES_PER_STORE:
            raise invalid(
                "file_id" if batch_id is None else "file_ids",
                f"A vector store holds at most {MAX_FILES_PER_STORE} files; this would make "
                f"{total}.",
            )
        if batch_body is not None:
            await repository.insert_object(
                conn, repo.BATCHES, batch_body, tenant, vector_store_id=store_id
            )
        rows = [build_file_row(tenant, store_id, f, s, a, batch_id) for f, s, a in new]
        await repo.insert_files(conn, rows)
    if new:
        state.ingestion.queued([(store_id, e[0]) for e in new], api_key)
    return [e[0] for e in new]


async def add_file_to_store(
    state: EngineState,
    tenant: str,
    store_id: str,
    file_id: str,
    *,
    chunking_strategy: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """Attach a file (queued for ingestion); an already attached file is answered as it is."""
    await _store_exists(state, tenant, store_id)
    await require_files(state, tenant, [file_id], "file_id")
    strategy = strategy_of(chunking_strategy)
    await _attach(state, tenant, store_id, [(file_id, strategy, attributes)], None, api_key)
    return await retrieve(state, tenant, store_id, file_id)


async def retrieve(state: EngineState, tenant: str, store_id: str, file_id: str) -> dict[str, Any]:
    async with state.db.read_keyed() as conn:
        if await repository.get_object(conn, repo.STORES, tenant, store_id) is None:
            raise not_found("vector store", store_id)
        found = await repo.get_file(conn, store_id, file_id)
    if found is None:
        raise not_found("vector store file", file_id)
    return found[0]


async def update_attributes(
    state: EngineState, tenant: str, store_id: str, file_id: str, attributes: dict[str, Any] | None
) -> dict[str, Any]:
    async with state.db.write() as conn:
        await _require_store(conn, tenant, store_id)
        found = await repo.get_file(conn, store_id, file_id, lock=True)
        if found is None:
            raise not_found("vector store file", file_id)
        body = {**found[0], "attributes": attributes or {}}
        await repo.save_file(conn, store_id, file_id, body)
    return body


async def delete(state: EngineState, tenant: str, store_id: str, file_id: str) -> dict[str, Any]:
    """Remove the file and its chunks from the store (the file itself stays)."""
    async with state.db.write() as conn:
        await _require_store(conn, tenant, store_id)
        if not await repo.delete_file_row(conn, store_id, file_id):
            raise not_found("vector store file", file_id)
        await repo.delete_file_chunks(conn, store_id, file_id)
        await repo.bump_generation(conn, store_id)
    state.ingestion.cancel(store_id=store_id, file_id=file_id)
    return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


async def detach_everywhere(
    state: EngineState, tenant: str, file_id: str, conn: AsyncConnection | None = None
) -> None:
    """A deleted file leaves every store of the tenant (inside the caller's transaction if
    given)."""
    if conn is None:
        async with state.db.write() as conn:
            return await detach_everywhere(state, tenant, file_id, conn)
    await repo.detach_file_everywhere(conn, tenant, file_id)
    return None


async def list_(
    state: EngineState,
    tenant: str,
    store_id: str,
    query: ListQuery,
    status: str | None,
    batch_id: str | None = None,
) -> dict[str, Any]:
    scope: dict[str, Any] = {"vector_store_id": store_id}
    if status:
        scope["status"] = status
    if batch_id:
        scope["batch_id"] = batch_id
    async with state.db.read() as conn:
        if await repository.get_object(conn, repo.STORES, tenant, store_id) is None:
            raise not_found("vector store", store_id)
        if (
            batch_id
            and await repository.get_object(
                conn, repo.BATCHES, tenant, batch_id, vector_store_id=store_id
            )
            is None
        ):
            raise not_found("vector store file batch", batch_id)
        return await list_objects(conn, repo.FILES, tenant, query, **scope)


async def content(state: EngineState, tenant: str, store_id: str, file_id: str) -> dict[str, Any]:
    """The file's parsed chunks, in order."""
    await retrieve(state, tenant, store_id, file_id)
    async with state.db.read() as conn:
        texts = await repo.file_chunk_texts(conn, store_id, file_id)
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": t} for t in texts],
        "has_more": False,
        "next_page": None,
    }


# --- batches -----------------------------------------------------------------------------------


def _shape_batch(body: dict[str, Any], counts: dict[str, int] | None) -> dict[str, Any]:
    counts = counts or {}
    file_counts = {s: counts.get(s, 0) for s in ("in_progress", "completed", "failed", "cancelled")}
    file_counts["total"] = sum(file_counts.values())
    if body.get("cancelled"):
        status = "cancelled"
    elif file_counts["in_progress"]:
        status = "in_progress"
    elif file_counts["total"] and file_counts["failed"] == file_counts["total"]:
        status = "failed"
    else:
        status = "completed"
    shaped = {k: v for k, v in body.items() if k != "cancelled"}
    return {**shaped, "status": status, "file_counts": file_counts}


async def create_batch(
    state: EngineState, tenant: str, store_id: str, fields: dict[str, Any], api_key: str | None
) -> dict[str, Any]:
    shared_strategy = fields.get("chunking_strategy")
    shared_attributes = fields.get("attributes")
    entries: dict[str, tuple[str, dict[str, Any], dict[str, Any] | None]] = {}
    for file_id in fields.get("file_ids") or []:
        entries[file_id] = (file_id, strategy_of(shared_strategy), shared_attributes)
    for item in fields.get("files") or []:
        strategy = strategy_of(item.get("chunking_strategy") or shared_strategy)
        attributes = item.get("attributes", shared_attributes)
        entries[item["file_id"]] = (item["file_id"], strategy, attributes)
    param = "file_ids" if fields.get("file_ids") else "files"
    await _store_exists(state, tenant, store_id)
    await require_files(state, tenant, list(entries), param)
    batch_id = new_id("vsfb")
    body = {
        "id": batch_id,
        "object": "vector_store.files_batch",
        "created_at": now(),
        "vector_store_id": store_id,
    }
    added = await _attach(
        state, tenant, store_id, list(entries.values()), batch_id, api_key, batch_body=body
    )
    return _shape_batch(body, {"in_progress": len(added)})


async def retrieve_batch(
    state: EngineState, tenant: str, store_id: str, batch_id: str
) -> dict[str, Any]:
    async with state.db.read() as conn:
        body = await repository.get_object(
            conn, repo.BATCHES, tenant, batch_id, vector_store_id=store_id
        )
        if body is None:
            raise not_found("vector store file batch", batch_id)
        counts = await repo.file_counts(conn, [], batch_id=batch_id)
    return _shape_batch(body, counts.get(store_id))


async def cancel_batch(
    state: EngineState, tenant: str, store_id: str, batch_id: str
) -> dict[str, Any]:
    """Files not yet ingested are cancelled; those done stay."""
    async with state.db.write() as conn:
        body = await repository.get_for_update(
            conn, repo.BATCHES, tenant, batch_id, vector_store_id=store_id
        )
        if body is None:
            raise not_found("vector store file batch", batch_id)
        cancelled = await repo.cancel_batch_files(conn, batch_id)
        if cancelled:
            body = {**body, "cancelled": True}
            await repository.replace_body(conn, repo.BATCHES, batch_id, body)
        counts = await repo.file_counts(conn, [], batch_id=batch_id)
    return _shape_batch(body, counts.get(store_id))


DAY = 86400


def store_body(fields: dict[str, Any], created_at: int) -> dict[str, Any]:
    """A new vector store's document from create fields (name, description, metadata,
    expires_after)."""
    expires_after = fields.get("expires_after")
    written = {
        "id": new_id("vs"),
        "object": "vector_store",
        "created_at": created_at,
        "expires_at": created_at + int(expires_after["days"]) * DAY if expires_after else None,
        "last_active_at": created_at,
    }
    return new_object(VECTOR_STORE_FIELDS, fields, written)
