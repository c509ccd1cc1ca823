"""Threads: create (with initial messages), retrieve, modify, delete (cascading to messages,
runs and run steps)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ...shapes.objects import modified, new_object
from ...shapes.threads import THREAD_FIELDS
from ..errors import not_found
from ..ids import new_id
from ..state import EngineState
from ..store import repository
from ..store.database import Database
from . import file_refs, messages, thread_files
from .common import ListQuery, list_objects, now, require_thread


async def create_in(
    conn: AsyncConnection, state: EngineState, tenant: str, fields: dict[str, Any], prefix: str = ""
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Create a thread and its initial `messages` inside the caller's transaction (`prefix`
    names where the thread's fields sit in the request, for errors). Files the messages attach
    for file_search join the thread's vector store; returns the thread and the (store, file)
    pairs to queue for ingestion once committed."""
    refs = file_refs.tool_resource_refs(fields.get("tool_resources"), f"{prefix}tool_resources")
    refs += file_refs.messages_refs(fields.get("messages"), f"{prefix}messages")
    await file_refs.require_files(conn, tenant, refs)
    created_at = now()
    written = {"id": new_id("thread"), "object": "thread", "created_at": created_at}
    body = new_object(THREAD_FIELDS, fields, written)
    body, queued = await thread_files.attach_to_thread_in(
        conn, state, tenant, body, thread_files.search_attachments(fields.get("messages"))
    )
    await repository.insert_object(conn, repository.THREADS, body, tenant)
    initial = [
        messages.build(body["id"], message, created_at=created_at)
        for message in fields.get("messages") or []
    ]
    await messages.insert_in(conn, tenant, initial)
    return body, queued


async def create(
    state: EngineState, tenant: str, fields: dict[str, Any], api_key: str | None = None
) -> dict[str, Any]:
    async with state.db.write() as conn:
        body, queued = await create_in(conn, state, tenant, fields)
    thread_files.queue_ingestion(state, queued, api_key)
    return body


async def retrieve(db: Database, tenant: str, thread_id: str) -> dict[str, Any]:
    async with db.read_keyed() as conn:
        return await require_thread(conn, tenant, thread_id)


async def modify(
    db: Database, tenant: str, thread_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Apply the fields the caller sent; a null resets the field to its default."""
    async with db.write() as conn:
        body = await require_thread(conn, tenant, thread_id, lock=True)
        refs = file_refs.tool_resource_refs(fields.get("tool_resources"))
        await file_refs.require_files(conn, tenant, refs)
        body = modified(THREAD_FIELDS, body, fields)
        await repository.replace_body(conn, repository.THREADS, thread_id, body)
    return body


async def delete(db: Database, tenant: str, thread_id: str) -> dict[str, Any]:
    """Delete the thread; the store's foreign keys cascade to its messages, runs and steps."""
    async with db.write() as conn:
        deleted = await repository.delete_object(conn, repository.THREADS, tenant, thread_id)
    if not deleted:
        raise not_found("thread", thread_id)
    return {"id": thread_id, "object": "thread.deleted", "deleted": True}


async def list_with_summaries(db: Database, tenant: str, query: ListQuery) -> dict[str, Any]:
    """The caller's threads, one page (newest created first by default), each thread object
    with its `last_message` and `last_run` (or null): the extension `GET /v1/x-threads`,
    which the console's thread list reads (docs/console.md)."""
    async with db.read() as conn:
        page = await list_objects(conn, repository.THREADS, tenant, query)
        ids = [thread["id"] for thread in page["data"]]
        summaries = await repository.thread_summaries(conn, tenant, ids)
    page["data"] = [{**thread, **summaries[thread["id"]]} for thread in page["data"]]
    return page
