"""Messages: create (refused while a run is active), retrieve, modify metadata, delete, list."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ...shapes.messages import MESSAGE_FIELDS
from ...shapes.objects import new_object
from ..errors import APIError, conflict, not_found
from ..ids import new_id
from ..state import EngineState
from ..store import repository
from ..store.database import Database
from . import file_refs, thread_files
from .common import ListQuery, list_objects, now, require_thread


def content_parts(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Request content (a string or request parts) as the message object's content parts."""
    if isinstance(content, str):
        return [_text(content)]
    return [_text(part["text"]) if part["type"] == "text" else part for part in content]


def _text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def build(
    thread_id: str,
    fields: dict[str, Any],
    *,
    assistant_id: str | None = None,
    run_id: str | None = None,
    created_at: int | None = None,
) -> dict[str, Any]:
    """A completed message body from create-message `fields` (role, content, attachments,
    metadata), not yet stored."""
    created_at = now() if created_at is None else created_at
    written = {
        "id": new_id("msg"),
        "object": "thread.message",
        "created_at": created_at,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "run_id": run_id,
        "content": content_parts(fields["content"]),
        "status": "completed",
        "completed_at": created_at,
    }
    return new_object(MESSAGE_FIELDS, fields, written)


async def insert_in(conn: AsyncConnection, tenant: str, bodies: list[dict[str, Any]]) -> None:
    """Store message bodies (in this order) inside the caller's transaction."""
    rows = [
        {
            "id": body["id"],
            "tenant": tenant,
            "thread_id": body["thread_id"],
            "run_id": body["run_id"],
            "created_at": body["created_at"],
            "body": body,
        }
        for body in bodies
    ]
    await repository.insert_many(conn, repository.MESSAGES, rows)


async def create_in(
    conn: AsyncConnection,
    tenant: str,
    thread_id: str,
    fields: dict[str, Any],
    *,
    assistant_id: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Add one message inside the caller's transaction. The caller has checked the thread
    (see `require_thread`) and any active run (`repository.active_run_id`); no rule is
    applied here."""
    body = build(thread_id, fields, assistant_id=assistant_id, run_id=run_id)
    await insert_in(conn, tenant, [body])
    return body


async def create(
    state: EngineState,
    tenant: str,
    thread_id: str,
    fields: dict[str, Any],
    api_key: str | None = None,
) -> dict[str, Any]:
    """Add a message; refused (400) while a run on the thread is queued, in progress, waiting
    for tool outputs or cancelling. Files it attaches for file_search join the thread's vector
    store now (ingestion starts at once)."""
    async with state.db.write() as conn:
        # Locking the thread row serializes this check with run creation on PostgreSQL.
        exists, run_id = await repository.lock_thread_for_append(conn, tenant, thread_id)
        if not exists:
            raise not_found("thread", thread_id)
        if run_id is not None:
            raise conflict(f"Can't add messages to {thread_id} while a run {run_id} is active.")
        await file_refs.require_files(conn, tenant, file_refs.message_refs(fields))
        queued = await attach_for_search_in(conn, state, tenant, thread_id, [fields])
        body = await create_in(conn, tenant, thread_id, fields)
    thread_files.queue_ingestion(state, queued, api_key)
    return body


async def attach_for_search_in(
    conn: AsyncConnection,
    state: EngineState,
    tenant: str,
    thread_id: str,
    messages: list[dict[str, Any]],
) -> list[tuple[str, str]]:
    """Inside the caller's transaction, on a thread it has locked: the files `messages` attach
    for file_search join the thread's vector store; the (store, file) pairs to queue."""
    file_ids = thread_files.search_attachments(messages)
    if not file_ids:
        return []
    thread = await repository.get_object(conn, repository.THREADS, tenant, thread_id)
    if thread is None:
        raise not_found("thread", thread_id)
    changed, queued = await thread_files.attach_to_thread_in(conn, state, tenant, thread, file_ids)
    if changed is not thread:
        await repository.replace_body(conn, repository.THREADS, thread_id, changed)
    return queued


# Reads and writes of one message look the message up first and check the thread only when it
# is not found, to say which of the two is missing: the common case costs one query. (Message
# rows carry their thread's tenant, so a found message proves the caller owns the thread.)


async def _missing(conn: AsyncConnection, tenant: str, thread_id: str, message_id: str) -> APIError:
    await require_thread(conn, tenant, thread_id)
    return not_found("message", message_id)


async def retrieve(db: Database, tenant: str, thread_id: str, message_id: str) -> dict[str, Any]:
    async with db.read_keyed() as conn:
        body = await repository.get_object(
            conn, repository.MESSAGES, tenant, message_id, thread_id=thread_id
        )
        if body is None:
            raise await _missing(conn, tenant, thread_id, message_id)
    return body


async def modify(
    db: Database, tenant: str, thread_id: str, message_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Only metadata can change; it is replaced as a whole (null clears it)."""
    async with db.write() as conn:
        body = await repository.get_for_update(
            conn, repository.MESSAGES, tenant, message_id, thread_id=thread_id
        )
        if body is None:
            raise await _missing(conn, tenant, thread_id, message_id)
        if "metadata" in fields:
            body = {**body, "metadata": fields["metadata"] or {}}
            await repository.replace_body(conn, repository.MESSAGES, message_id, body)
    return body


async def delete(db: Database, tenant: str, thread_id: str, message_id: str) -> dict[str, Any]:
    async with db.write() as conn:
        deleted = await repository.delete_object(
            conn, repository.MESSAGES, tenant, message_id, thread_id=thread_id
        )
        if not deleted:
            raise await _missing(conn, tenant, thread_id, message_id)
    return {"id": message_id, "object": "thread.message.deleted", "deleted": True}


async def list_(
    db: Database, tenant: str, thread_id: str, query: ListQuery, run_id: str | None = None
) -> dict[str, Any]:
    scope: dict[str, Any] = {"thread_id": thread_id}
    if run_id is not None:
        scope["run_id"] = run_id
    async with db.read_keyed() as conn:
        try:
            page = await list_objects(conn, repository.MESSAGES, tenant, query, **scope)
        except APIError:  # e.g. an unknown cursor: an unknown thread is the better answer
            await require_thread(conn, tenant, thread_id)
            raise
        if not page["data"]:  # an empty page: is the thread there at all?
            await require_thread(conn, tenant, thread_id)
    return page
