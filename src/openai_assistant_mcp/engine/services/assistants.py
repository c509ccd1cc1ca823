"""Assistants: create, retrieve, modify, delete, list."""

from __future__ import annotations

from typing import Any

from ...shapes.assistants import ASSISTANT_FIELDS
from ...shapes.objects import modified, new_object
from ..errors import not_found
from ..ids import new_id
from ..store import repository
from ..store.database import Database
from . import file_refs
from .common import ListQuery, list_objects, now


async def create(db: Database, tenant: str, fields: dict[str, Any]) -> dict[str, Any]:
    written = {"id": new_id("asst"), "object": "assistant", "created_at": now()}
    body = new_object(ASSISTANT_FIELDS, fields, written)
    async with db.write() as conn:
        refs = file_refs.tool_resource_refs(body.get("tool_resources"))
        await file_refs.require_files(conn, tenant, refs)
        await repository.insert_object(conn, repository.ASSISTANTS, body, tenant)
    return body


async def retrieve(db: Database, tenant: str, assistant_id: str) -> dict[str, Any]:
    async with db.read_keyed() as conn:
        body = await repository.get_object(conn, repository.ASSISTANTS, tenant, assistant_id)
    if body is None:
        raise not_found("assistant", assistant_id)
    return body


async def modify(
    db: Database, tenant: str, assistant_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Apply the fields the caller sent; a null resets a nullable field to its default."""
    async with db.write() as conn:
        body = await repository.get_for_update(conn, repository.ASSISTANTS, tenant, assistant_id)
        if body is None:
            raise not_found("assistant", assistant_id)
        refs = file_refs.tool_resource_refs(fields.get("tool_resources"))
        await file_refs.require_files(conn, tenant, refs)
        body = modified(ASSISTANT_FIELDS, body, fields)
        await repository.replace_body(conn, repository.ASSISTANTS, assistant_id, body)
    return body


async def delete(db: Database, tenant: str, assistant_id: str) -> dict[str, Any]:
    async with db.write() as conn:
        deleted = await repository.delete_object(conn, repository.ASSISTANTS, tenant, assistant_id)
    if not deleted:
        raise not_found("assistant", assistant_id)
    return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}


async def list_(db: Database, tenant: str, query: ListQuery) -> dict[str, Any]:
    async with db.read_keyed() as conn:
        return await list_objects(conn, repository.ASSISTANTS, tenant, query)
