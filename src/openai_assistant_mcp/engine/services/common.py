"""Helpers shared by the services: clocks, list envelopes, cursor errors."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import invalid, not_found
from ..store import repository


def now() -> int:
    """Unix seconds, as every `*_at` field of the API."""
    return int(time.time())


@dataclass(frozen=True)
class ListQuery:
    limit: int = 20
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None
    before: str | None = None


def list_envelope(page: repository.Page) -> dict[str, Any]:
    data = page.data
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": page.has_more,
    }


async def list_objects(
    conn: AsyncConnection, table: Any, tenant: str, query: ListQuery, **scope: Any
) -> dict[str, Any]:
    """One page of `table` as the API's list object; unknown cursors are a 400 naming them."""
    try:
        page = await repository.list_page(
            conn,
            table,
            tenant,
            limit=query.limit,
            order=query.order,
            after=query.after,
            before=query.before,
            **scope,
        )
    except repository.CursorNotFound as exc:
        value = query.after if exc.param == "after" else query.before
        message = f"Invalid '{exc.param}': no object with id '{value}' in this list."
        raise invalid(exc.param, message) from None
    return list_envelope(page)


async def require_thread(
    conn: AsyncConnection, tenant: str, thread_id: str, *, lock: bool = False
) -> dict[str, Any]:
    """The caller's thread, or a 404 (another tenant's thread answers exactly as a missing one).
    `lock` holds the row until the transaction ends, serializing writers on the thread."""
    get = repository.get_for_update if lock else repository.get_object
    body = await get(conn, repository.THREADS, tenant, thread_id)
    if body is None:
        raise not_found("thread", thread_id)
    return body
