"""All of the engine's SQL: insert, fetch, update, delete and page through stored objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from . import tables

Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class Page:
    data: list[dict[str, Any]]
    has_more: bool


class CursorNotFound(LookupError):
    """An `after`/`before` cursor that names no object in the listed collection."""

    def __init__(self, param: str) -> None:
        super().__init__(param)
        self.param = param


async def insert_object(
    conn: AsyncConnection, table: Table, body: dict[str, Any], tenant: str, **columns: Any
) -> None:
    await conn.execute(
        insert(table).values(
            id=body["id"], tenant=tenant, created_at=body["created_at"], body=body, **columns
        )
    )


async def insert_many(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Rows are dicts of column values (id, tenant, created_at, body, ...)."""
    if rows:
        await conn.execute(insert(table), rows)


async def get_object(
    conn: AsyncConnection, table: Table, tenant: str, object_id: str, **scope: Any
) -> dict[str, Any] | None:
    query = select(table.c.body).where(table.c.id == object_id, table.c.tenant == tenant)
    for name, value in scope.items():
        query = query.where(table.c[name] == value)
    return (await conn.execute(query)).scalar_one_or_none()


async def get_for_update(
    conn: AsyncConnection, table: Table, tenant: str, object_id: str, **scope: Any
) -> dict[str, Any] | None:
    """Like get_object, locking the row until the transaction ends (PostgreSQL; SQLite's
    write transactions are already exclusive)."""
    query = select(table.c.body).where(table.c.id == object_id, table.c.tenant == tenant)
    for name, value in scope.items():
        query = query.where(table.c[name] == value)
    return (await conn.execute(query.with_for_update())).scalar_one_or_none()


async def replace_body(
    conn: AsyncConnection, table: Table, object_id: str, body: dict[str, Any], **columns: Any
) -> None:
    await conn.execute(update(table).where(table.c.id == object_id).values(body=body, **columns))


async def delete_object(
    conn: AsyncConnection, table: Table, tenant: str, object_id: str, **scope: Any
) -> bool:
    query = delete(table).where(table.c.id == object_id, table.c.tenant == tenant)
    for name, value in scope.items():
        query = query.where(table.c[name] == value)
    result = await conn.execute(query)
    return result.rowcount > 0


async def count(conn: AsyncConnection, table: Table, **scope: Any) -> int:
    query = select(func.count()).select_from(table)
    for name, value in scope.items():
        query = query.where(table.c[name] == value)
    return int((await conn.execute(query)).scalar_one())


async def list_page(
    conn: AsyncConnection,
    table: Table,
    tenant: str,
    *,
    limit: int,
    order: Order,
    after: str | None = None,
    before: str | None = None,
    **scope: Any,
) -> Page:
    """One page in `order`, starting after `after` and/or ending before `before`.

    Cursors resolve to the row's `seq` within the same scope, so the cost of a page does not
    depend on how many objects the collection holds (an index on (scope, seq) serves it)."""
    conditions = [table.c.tenant == tenant]
    conditions += [table.c[name] == value for name, value in scope.items()]
    seq = table.c.seq

    async def cursor_seq(param: str, object_id: str) -> int:
        value = (
            await conn.execute(select(seq).where(table.c.id == object_id, *conditions))
        ).scalar_one_or_none()
        if value is None:
            raise CursorNotFound(param)
        return int(value)

    query = select(table.c.body).where(*conditions)
    descending = order == "desc"
    if after is not None:
        bound = await cursor_seq("after", after)
        query = query.where(seq < bound if descending else seq > bound)
    reverse = False
    if before is not None:
        bound = await cursor_seq("before", before)
        query = query.where(seq > bound if descending else seq < bound)
        if after is None:
            # The page nearest to `before`: walk away from it, then restore the order.
            reverse = True
    walk_desc = descending != reverse
    query = query.order_by(seq.desc() if walk_desc else seq.asc()).limit(limit + 1)
    rows = list((await conn.execute(query)).scalars())
    has_more = len(rows) > limit
    rows = rows[:limit]
    if reverse:
        rows.reverse()
    return Page(rows, has_more)


ASSISTANTS = tables.assistants
THREADS = tables.threads
MESSAGES = tables.messages
RUNS = tables.runs
RUN_STEPS = tables.run_steps


# Runs in these states still own their thread: nothing may be added to it meanwhile.
ACTIVE_RUN_STATUSES = ("queued", "in_progress", "requires_action", "cancelling")


async def active_run_id(conn: AsyncConnection, thread_id: str) -> str | None:
    """The ID of a run on `thread_id` that is still active, if any."""
    query = (
        select(RUNS.c.id)
        .where(RUNS.c.thread_id == thread_id, RUNS.c.status.in_(ACTIVE_RUN_STATUSES))
        .limit(1)
    )
    return (await conn.execute(query)).scalar_one_or_none()
