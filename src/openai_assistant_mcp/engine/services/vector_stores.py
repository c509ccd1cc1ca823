"""Vector stores: create, retrieve, modify, delete, list, and hybrid search. Also the calls
other parts of the engine make: `search`, `wait_ingested`, `add_file_to_store` (file_search)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ...shapes.objects import modified
from ...shapes.vector_stores import HIDDEN, VECTOR_STORE_FIELDS
from ..errors import invalid, not_found
from ..state import EngineState
from ..store import file_store, repository, vector_chunks
from ..store import vector_repository as repo
from ..vectors.embedders import choose_mode
from .common import ListQuery, list_objects, now
from .vector_store_files import (
    MAX_FILES_PER_STORE,
    add_file_to_store,
    build_file_row,
    require_files,
    store_body,
    strategy_of,
)

__all__ = ["add_file_to_store", "search", "wait_ingested"]

DAY = 86400


def _expires_at(expires_after: dict[str, Any] | None, last_active_at: int) -> int | None:
    return last_active_at + int(expires_after["days"]) * DAY if expires_after else None


def shape(body: dict[str, Any], counts: dict[str, int] | None) -> dict[str, Any]:
    """The API object: the stored document plus file counts, usage and status."""
    counts = counts or {}
    file_counts = {s: counts.get(s, 0) for s in ("in_progress", "completed", "failed", "cancelled")}
    file_counts["total"] = sum(file_counts.values())
    expires_at = body.get("expires_at")
    if expires_at is not None and expires_at <= time.time():
        status = "expired"
    elif file_counts["in_progress"]:
        status = "in_progress"
    else:
        status = "completed"
    shaped = {
        k: v
        for k, v in body.items()
        if k not in HIDDEN and not (k == "expires_after" and v is None)
    }
    return {
        **shaped,
        "usage_bytes": counts.get("usage_bytes", 0),
        "file_counts": file_counts,
        "status": status,
    }


async def require_store(
    conn: AsyncConnection, tenant: str, store_id: str, *, lock: bool = False
) -> dict[str, Any]:
    """The caller's vector store, or a 404 (another tenant's answers as a missing one)."""
    get = repository.get_for_update if lock else repository.get_object
    body = await get(conn, repo.STORES, tenant, store_id)
    if body is None:
        raise not_found("vector store", store_id)
    return body


async def create(
    state: EngineState,
    tenant: str,
    fields: dict[str, Any],
    api_key: str | None = None,
    *,
    param: str = "",
) -> dict[str, Any]:
    file_ids = list(dict.fromkeys(fields.get("file_ids") or []))
    await require_files(state, tenant, file_ids, f"{param}.file_ids" if param else "file_ids")
    strategy = strategy_of(fields.get("chunking_strategy"))
    body = store_body(fields, now())
    rows = [build_file_row(tenant, body["id"], fid, strategy, None, None) for fid in file_ids]
    async with state.db.write() as conn:
        await repository.insert_object(
            conn, repo.STORES, body, tenant, embedding=choose_mode(state.settings), generation=0
        )
        await repo.insert_files(conn, rows)
    if rows:
        state.ingestion.queued([(body["id"], fid) for fid in file_ids], api_key)
    return shape(body, {"in_progress": len(rows)})


async def retrieve(state: EngineState, tenant: str, store_id: str) -> dict[str, Any]:
    async with state.db.read() as conn:
        body = await require_store(conn, tenant, store_id)
        counts = await repo.file_counts(conn, [store_id])
    return shape(body, counts.get(store_id))


async def modify(
    state: EngineState, tenant: str, store_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    async with state.db.write() as conn:
        body = await require_store(conn, tenant, store_id, lock=True)
        body = modified(VECTOR_STORE_FIELDS, body, fields)
        if "expires_after" in fields:
            body["expires_at"] = _expires_at(body["expires_after"], body["last_active_at"])
        await repository.replace_body(conn, repo.STORES, store_id, body)
        counts = await repo.file_counts(conn, [store_id])
    return shape(body, counts.get(store_id))


async def delete(state: EngineState, tenant: str, store_id: str) -> dict[str, Any]:
    """Delete the store with its files and chunks, and detach it from assistants and threads."""
    async with state.db.write() as conn:
        await require_store(conn, tenant, store_id, lock=True)
        await repository.delete_object(conn, repo.STORES, tenant, store_id)
        for table in (repository.ASSISTANTS, repository.THREADS):
            for body in await file_store.bodies_mentioning(conn, table, tenant, store_id):
                if _detach_store(body, store_id):
                    await repository.replace_body(conn, table, body["id"], body)
    state.ingestion.cancel(store_id=store_id)
    return {"id": store_id, "object": "vector_store.deleted", "deleted": True}


def _detach_store(body: dict[str, Any], store_id: str) -> bool:
    file_search = (body.get("tool_resources") or {}).get("file_search") or {}
    ids = file_search.get("vector_store_ids") or []
    if store_id not in ids:
        return False
    file_search["vector_store_ids"] = [i for i in ids if i != store_id]
    return True


async def list_(state: EngineState, tenant: str, query: ListQuery) -> dict[str, Any]:
    async with state.db.read() as conn:
        page = await list_objects(conn, repo.STORES, tenant, query)
        counts = await repo.file_counts(conn, [body["id"] for body in page["data"]])
    page["data"] = [shape(body, counts.get(body["id"])) for body in page["data"]]
    return page


async def resolve_file_search(
    state: EngineState, tenant: str, tool_resources: dict[str, Any] | None, api_key: str | None
) -> dict[str, Any] | None:
    """tool_resources with file_search checked: vector_store_ids must name the tenant's
    stores, and the `vector_stores` helper becomes a new store (from its file_ids) whose ID
    replaces it."""
    file_search = (tool_resources or {}).get("file_search")
    if not file_search:
        return tool_resources
    param = "tool_resources.file_search"
    store_ids = list(file_search.get("vector_store_ids") or [])
    async with state.db.read() as conn:
        found = await repo.stores_of_tenant(conn, tenant, store_ids)
    for index, store_id in enumerate(store_ids):
        if store_id not in found:
            raise invalid(
                f"{param}.vector_store_ids[{index}]", f"No vector store found with id '{store_id}'."
            )
    for helper in file_search.get("vector_stores") or []:
        store = await create(state, tenant, helper, api_key, param=f"{param}.vector_stores[0]")
        store_ids.append(store["id"])
    return {**(tool_resources or {}), "file_search": {"vector_store_ids": store_ids}}


# --- search ------------------------------------------------------------------------------------


async def search(
    state: EngineState,
    tenant: str,
    vector_store_ids: list[str],
    query: str | list[str],
    *,
    max_num_results: int = 20,
    ranking_options: dict[str, Any] | None = None,
    filters: dict[str, Any] | None = None,
    api_key: str | None = None,
    keyword: bool = True,
    vector: bool = True,
) -> list[dict[str, Any]]:
    """The spec's search result objects (file_id, filename, score, attributes, content), best
    first, across the tenant's `vector_store_ids` (a missing one is a 404, an expired one 400).
    `ranking_options.ranker` `none` answers from one ranking (vectors.search.hybrid)."""
    from ..vectors.filters import matches
    from ..vectors.search import StoreForSearch, hybrid

    queries = [query] if isinstance(query, str) else list(query)
    queries = [q for q in queries if q.strip()]
    threshold = float((ranking_options or {}).get("score_threshold") or 0.0)
    ranker = (ranking_options or {}).get("ranker") or "auto"
    async with state.db.read() as conn:
        found = await repo.stores_of_tenant(conn, tenant, vector_store_ids)
    stores = []
    for store_id in dict.fromkeys(vector_store_ids):
        if store_id not in found:
            raise not_found("vector store", store_id)
        body, record, generation = found[store_id]
        if body.get("expires_at") is not None and body["expires_at"] <= time.time():
            raise invalid("vector_store_id", f"Vector store '{store_id}' has expired.")
        stores.append(StoreForSearch(store_id, record, generation))
    if not queries or not stores:
        return []
    await _touch(state, [found[s.id][0] for s in stores])
    store_ids = [s.id for s in stores]
    allowed = None
    if filters:  # every file's attributes decide which files may answer
        async with state.db.read() as conn:
            every = await repo.files_attributes(conn, store_ids)
        allowed = {file_id for _, file_id, attrs in every if matches(filters, attrs)}
        if not allowed:
            return []
    pgvector = state.ingestion.pgvector
    hits = await hybrid(
        state.db,
        state.settings,
        stores,
        queries,
        limit=max_num_results,
        file_ids=allowed,
        api_key=api_key,
        pgvector=pgvector,
        keyword=keyword,
        vector=vector,
        ranker=ranker,
    )
    hits = [hit for hit in hits if hit.score >= threshold]
    async with state.db.read() as conn:
        chunks = await vector_chunks.chunk_details(conn, tenant, [hit.chunk_id for hit in hits])
    results = []
    for hit in hits:
        if hit.chunk_id not in chunks or chunks[hit.chunk_id][0] not in found:
            continue  # removed since the ranking was read (or, defensively, not searched)
        _, file_id, text, attributes, filename = chunks[hit.chunk_id]
        results.append(
            {
                "file_id": file_id,
                "filename": filename,
                "score": round(hit.score, 6),
                "attributes": attributes,
                "content": [{"type": "text", "text": text}],
            }
        )
    return results


async def search_page(
    state: EngineState, tenant: str, store_id: str, fields: dict[str, Any], api_key: str | None
) -> dict[str, Any]:
    """POST /vector_stores/{id}/search: the results page; with `rewrite_query` the query is
    rewritten first (vectors.search.rewrite) and the page says what was searched."""
    from ..vectors.search import rewrite

    query = fields["query"]
    if fields.get("rewrite_query"):
        query = rewrite(query) if isinstance(query, str) else [rewrite(q) for q in query]
    data = await search(
        state,
        tenant,
        [store_id],
        query,
        max_num_results=fields.get("max_num_results") or 10,
        ranking_options=fields.get("ranking_options"),
        filters=fields.get("filters"),
        api_key=api_key,
    )
    return {
        "object": "vector_store.search_results.page",
        "search_query": [query] if isinstance(query, str) else list(query),
        "data": data,
        "has_more": False,
        "next_page": None,
    }


async def _touch(state: EngineState, bodies: list[dict[str, Any]]) -> None:
    """Searching makes a store active: last_active_at (and expiry) move on, at most once a
    minute per store so searches do not queue behind writes."""
    current = now()
    stale = [b for b in bodies if current - int(b.get("last_active_at") or 0) >= 60]
    if not stale:
        return
    async with state.db.write() as conn:
        for body in stale:
            body = {**body, "last_active_at": current}
            body["expires_at"] = _expires_at(body.get("expires_after"), current)
            await repository.replace_body(conn, repo.STORES, body["id"], body)


async def wait_ingested(
    state: EngineState, tenant: str, vector_store_ids: list[str], timeout_s: float
) -> bool:
    """Wait until none of the stores has a file in progress; False if time ran out first."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with state.db.read() as conn:
            counts = await repo.file_counts(conn, vector_store_ids)
        if not any(c.get("in_progress") for c in counts.values()):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


__all__ += ["MAX_FILES_PER_STORE"]
