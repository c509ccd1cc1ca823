"""Files for file_search beyond the vector store API: files attached to messages join the
thread's own vector store, and which files of the searched stores a search can read (waiting,
bounded, for their ingestion)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import invalid
from ..state import EngineState
from ..store import repository
from ..store import vector_repository as repo
from ..vectors.embedders import choose_mode
from .common import now
from .vector_store_files import MAX_FILES_PER_STORE, build_file_row, store_body, strategy_of

# OpenAI's default expiry for the store it made for a thread's attachments.
THREAD_STORE_EXPIRY = {"anchor": "last_active_at", "days": 7}


def search_attachments(messages: list[dict[str, Any]] | None) -> list[str]:
    """The file IDs these messages (request fields or stored bodies) attach for file_search."""
    return list(
        dict.fromkeys(
            attachment["file_id"]
            for message in messages or []
            for attachment in message.get("attachments") or []
            if any(t.get("type") == "file_search" for t in attachment.get("tools") or [])
        )
    )


def thread_store_id(thread: dict[str, Any]) -> str | None:
    ids = ((thread.get("tool_resources") or {}).get("file_search") or {}).get("vector_store_ids")
    return ids[0] if ids else None


async def attach_to_thread_in(
    conn: AsyncConnection,
    state: EngineState,
    tenant: str,
    thread: dict[str, Any],
    file_ids: list[str],
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Inside the caller's transaction (the thread row written or locked by it): add
    `file_ids` (existing files of the tenant) to the thread's vector store, made on first use
    with OpenAI's 7-day expiry, as OpenAI did for message attachments. Returns the thread
    (with the new store in its tool_resources; the caller stores it) and the (store, file)
    pairs to queue with `queue_ingestion` once committed."""
    if not file_ids:
        return thread, []
    store_id = thread_store_id(thread)
    made = store_id is None
    if store_id is None:
        body = store_body(
            {"name": f"{thread['id']} files", "expires_after": THREAD_STORE_EXPIRY}, now()
        )
        await repository.insert_object(
            conn, repo.STORES, body, tenant, embedding=choose_mode(state.settings), generation=0
        )
        store_id = body["id"]
        resources = thread.get("tool_resources") or {}
        thread = {
            **thread,
            "tool_resources": {**resources, "file_search": {"vector_store_ids": [store_id]}},
        }
        present: set[str] = set()
    else:
        present = await repo.existing_file_ids(conn, store_id, file_ids)
    new = [file_id for file_id in file_ids if file_id not in present]
    if not new:
        return thread, []
    total = (0 if made else await repo.count_files(conn, store_id)) + len(new)
    if total > MAX_FILES_PER_STORE:
        raise invalid(
            "attachments",
            f"The thread's vector store {store_id} holds at most {MAX_FILES_PER_STORE} files; "
            f"these attachments would make {total}.",
        )
    strategy = strategy_of(None)
    await repo.insert_files(
        conn, [build_file_row(tenant, store_id, f, strategy, None, None) for f in new]
    )
    return thread, [(store_id, file_id) for file_id in new]


def queue_ingestion(state: EngineState, queued: list[tuple[str, str]], api_key: str | None) -> None:
    """Wake the ingestion worker for files queued in a transaction just committed."""
    if queued:
        state.ingestion.queued(queued, api_key)


# --- what a search can read ------------------------------------------------------------------

MAX_UNSEARCHABLE_LISTED = 10


async def ingestion_counts(state: EngineState, store_ids: list[str]) -> dict[str, dict[str, int]]:
    """{store_id: {status: count}} of the stores' files."""
    async with state.db.read() as conn:
        return await repo.file_counts(conn, store_ids)


def ingesting(counts: dict[str, dict[str, int]]) -> bool:
    return any(c.get("in_progress") for c in counts.values())


async def wait_ingested(
    state: EngineState, store_ids: list[str], timeout_s: float
) -> dict[str, dict[str, int]]:
    """Wait (at most `timeout_s`) until no file of the stores is being ingested; the counts
    as they stand then."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = await ingestion_counts(state, store_ids)
        if not ingesting(counts) or time.monotonic() >= deadline:
            return counts
        await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


async def unsearchable_files(
    state: EngineState, tenant: str, store_ids: list[str], counts: dict[str, dict[str, int]]
) -> list[dict[str, Any]]:
    """The stores' files that cannot be searched - failed, or still in progress - as
    {file_id, filename, status, last_error} (at most 10); no query when `counts` (from
    `ingestion_counts`) has none."""
    if not any(c.get("in_progress") or c.get("failed") for c in counts.values()):
        return []
    async with state.db.read() as conn:
        page = await repository.list_page(
            conn,
            repo.FILES,
            tenant,
            limit=MAX_UNSEARCHABLE_LISTED,
            order="asc",
            where=[
                repo.FILES.c.vector_store_id.in_(store_ids),
                repo.FILES.c.status.in_(["failed", "in_progress"]),
            ],
        )
        names = await repo.file_names(conn, tenant, [body["id"] for body in page.data])
    return [
        {
            "file_id": body["id"],
            "filename": names.get(body["id"], body["id"]),
            "status": body["status"],
            "last_error": body.get("last_error"),
        }
        for body in page.data
    ]
