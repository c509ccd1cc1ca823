"""All of the engine's SQL: insert, fetch, update, delete and page through stored objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..runs import lifecycle
from ..runs.lifecycle import RunStatus
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
    where: tuple[Any, ...] | list[Any] = (),
    **scope: Any,
) -> Page:
    """One page in `order`, starting after `after` and/or ending before `before`.

    Cursors resolve to the row's `seq` within the same scope, so the cost of a page does not
    depend on how many objects the collection holds (an index on (scope, seq) serves it)."""
    conditions = [table.c.tenant == tenant]
    conditions += [table.c[name] == value for name, value in scope.items()]
    conditions += list(where)
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
ACTIVE_RUN_STATUSES = lifecycle.ACTIVE


async def active_run_id(conn: AsyncConnection, thread_id: str) -> str | None:
    """The ID of a run on `thread_id` that is still active, if any."""
    query = (
        select(RUNS.c.id)
        .where(RUNS.c.thread_id == thread_id, RUNS.c.status.in_(ACTIVE_RUN_STATUSES))
        .limit(1)
    )
    return (await conn.execute(query)).scalar_one_or_none()


async def lock_thread_for_append(
    conn: AsyncConnection, tenant: str, thread_id: str
) -> tuple[bool, str | None]:
    """(whether the tenant's thread exists, the ID of its active run if any), locking the thread
    row until the transaction ends. One query: this is on the path of every new message."""
    active = (
        select(RUNS.c.id)
        .where(RUNS.c.thread_id == THREADS.c.id, RUNS.c.status.in_(ACTIVE_RUN_STATUSES))
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(THREADS.c.id, active)
        .where(THREADS.c.id == thread_id, THREADS.c.tenant == tenant)
        .with_for_update(of=THREADS)
    )
    row = (await conn.execute(query)).first()
    return (False, None) if row is None else (True, row[1])


# --- runs: execution state, claims and leases ------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    """A run with the columns its executor needs besides the API document."""

    id: str
    tenant: str
    thread_id: str
    status: str
    lease_owner: str | None
    lease_expires_at: float | None
    body: dict[str, Any]
    execution: dict[str, Any]


@dataclass(frozen=True)
class Prepared:
    """A run just claimed in a transaction and the thread's messages read in it: the
    executor's turn starts from these."""

    row: RunRow
    history: list[dict[str, Any]]


_RUN_COLUMNS = (
    RUNS.c.id,
    RUNS.c.tenant,
    RUNS.c.thread_id,
    RUNS.c.status,
    RUNS.c.lease_owner,
    RUNS.c.lease_expires_at,
    RUNS.c.body,
    RUNS.c.execution,
)


def _run_row(row: Any) -> RunRow:
    run_id, tenant, thread_id, status, lease_owner, lease_expires_at, body, execution = row
    return RunRow(
        run_id, tenant, thread_id, status, lease_owner, lease_expires_at, body, execution or {}
    )


async def insert_run(
    conn: AsyncConnection,
    body: dict[str, Any],
    tenant: str,
    execution: dict[str, Any],
    *,
    lease_owner: str | None,
    lease_expires_at: float | None,
) -> None:
    await insert_object(
        conn,
        RUNS,
        body,
        tenant,
        thread_id=body["thread_id"],
        status=body["status"],
        execution=execution,
        lease_owner=lease_owner,
        lease_expires_at=lease_expires_at,
    )


async def get_run(
    conn: AsyncConnection,
    run_id: str,
    *,
    tenant: str | None = None,
    thread_id: str | None = None,
    lock: bool = False,
) -> RunRow | None:
    """The run (scoped to a tenant and thread when given); `lock` holds its row (PostgreSQL)."""
    query = select(*_RUN_COLUMNS).where(RUNS.c.id == run_id)
    if tenant is not None:
        query = query.where(RUNS.c.tenant == tenant)
    if thread_id is not None:
        query = query.where(RUNS.c.thread_id == thread_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _run_row(row) if row is not None else None


async def save_run(
    conn: AsyncConnection,
    body: dict[str, Any],
    execution: dict[str, Any] | None = None,
    **columns: Any,
) -> None:
    """Store the run's document (its `status` column follows it) and, if given, its execution
    state and lease columns."""
    values: dict[str, Any] = {"body": body, "status": body["status"], **columns}
    if execution is not None:
        values["execution"] = execution
    await conn.execute(update(RUNS).where(RUNS.c.id == body["id"]).values(**values))


def _claimable(now: float, waiting_created_before: int) -> Any:
    """Runs nobody executes: active runs whose lease ran out (their process died or never
    took them), and runs waiting for tool outputs since before `waiting_created_before`."""
    unowned = RUNS.c.status.in_(lifecycle.EXECUTING) & (
        RUNS.c.lease_expires_at.is_(None) | (RUNS.c.lease_expires_at < now)
    )
    stale_wait = (RUNS.c.status == RunStatus.REQUIRES_ACTION) & (
        RUNS.c.created_at < waiting_created_before
    )
    return unowned | stale_wait


async def any_claimable(conn: AsyncConnection, *, now: float, waiting_created_before: int) -> bool:
    """Whether claim_runs would find anything (a read: most polls find nothing)."""
    query = select(RUNS.c.id).where(_claimable(now, waiting_created_before)).limit(1)
    return (await conn.execute(query)).first() is not None


async def claim_runs(
    conn: AsyncConnection,
    owner: str,
    *,
    now: float,
    lease_until: float,
    waiting_created_before: int,
    limit: int = 20,
) -> list[RunRow]:
    """Take over runs nobody executes (see `_claimable`), to resume, expire or end them. Rows
    another transaction holds are skipped, so two processes never claim the same run."""
    query = (
        select(*_RUN_COLUMNS)
        .where(_claimable(now, waiting_created_before))
        .order_by(RUNS.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = [_run_row(row) for row in await conn.execute(query)]
    if rows:
        await conn.execute(
            update(RUNS)
            .where(RUNS.c.id.in_([row.id for row in rows]))
            .values(lease_owner=owner, lease_expires_at=lease_until)
        )
    return rows


async def renew_leases(
    conn: AsyncConnection, owner: str, run_ids: list[str], lease_until: float
) -> dict[str, str]:
    """Extend `owner`'s leases on `run_ids`; answers {run_id: status} for the runs it still
    holds (a missing ID was deleted or taken over)."""
    if not run_ids:
        return {}
    result = await conn.execute(
        update(RUNS)
        .where(RUNS.c.id.in_(run_ids), RUNS.c.lease_owner == owner)
        .values(lease_expires_at=lease_until)
        .returning(RUNS.c.id, RUNS.c.status)
    )
    return {row[0]: row[1] for row in result}


async def release_leases(conn: AsyncConnection, owner: str) -> None:
    """Let any process take over `owner`'s unfinished runs at once (on shutdown)."""
    await conn.execute(
        update(RUNS)
        .where(RUNS.c.lease_owner == owner, RUNS.c.status.in_(ACTIVE_RUN_STATUSES))
        .values(lease_expires_at=0.0)
    )


async def run_children(
    conn: AsyncConnection, table: Table, thread_id: str, run_id: str
) -> list[dict[str, Any]]:
    """The run's steps or messages (bodies), oldest first."""
    query = (
        select(table.c.body)
        .where(table.c.thread_id == thread_id, table.c.run_id == run_id)
        .order_by(table.c.seq)
    )
    return list((await conn.execute(query)).scalars())


async def recent_messages(
    conn: AsyncConnection, thread_id: str, limit: int
) -> list[dict[str, Any]]:
    """The newest `limit` messages of a thread (bodies), oldest first."""
    query = (
        select(MESSAGES.c.body)
        .where(MESSAGES.c.thread_id == thread_id)
        .order_by(MESSAGES.c.seq.desc())
        .limit(limit)
    )
    rows = list((await conn.execute(query)).scalars())
    rows.reverse()
    return rows


# The console's thread list (an extension: the Assistants API lists no threads) shows the start
# of each thread's newest message; longer text is cut here, in SQL, so a page never reads more.
PREVIEW_CHARS = 200


async def thread_summaries(
    conn: AsyncConnection, tenant: str, thread_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """For each of the tenant's `thread_ids` (a page, at most 100): its newest message (id,
    role, created_at, the start of its first text part) and newest run (id, assistant_id,
    status, created_at), as {thread_id: {"last_message": ..., "last_run": ...}}.

    Each newest row is found by one index seek on (thread_id, seq), whatever the thread's
    length; only the previewed fields are read, never whole message bodies."""
    summaries: dict[str, dict[str, Any]] = {
        thread_id: {"last_message": None, "last_run": None} for thread_id in thread_ids
    }
    if not thread_ids:
        return summaries
    threads = THREADS.alias("t")

    def newest_seq(table: Table) -> Any:
        inner = table.alias()
        return (
            select(inner.c.seq)
            .where(inner.c.thread_id == threads.c.id)
            .order_by(inner.c.seq.desc())
            .limit(1)
            .scalar_subquery()
        )

    def newest(table: Table) -> Any:
        # By ID alone (the page's IDs are the tenant's; the rows read are checked for the
        # tenant below): with the tenant here too, SQLite walked the tenant's whole
        # (tenant, seq) index to find the page's threads (10,000 threads: 4x slower).
        return select(newest_seq(table)).where(threads.c.id.in_(thread_ids))

    body = MESSAGES.c.body
    message_rows = await conn.execute(
        select(
            MESSAGES.c.thread_id,
            MESSAGES.c.id,
            MESSAGES.c.created_at,
            body["role"].as_string(),
            func.substr(body[("content", 0, "text", "value")].as_string(), 1, PREVIEW_CHARS),
        ).where(MESSAGES.c.seq.in_(newest(MESSAGES)), MESSAGES.c.tenant == tenant)
    )
    for thread_id, message_id, created_at, role, preview in message_rows:
        summaries[thread_id]["last_message"] = {
            "id": message_id,
            "role": role,
            "created_at": created_at,
            "preview": preview,
        }
    run_rows = await conn.execute(
        select(
            RUNS.c.thread_id,
            RUNS.c.id,
            RUNS.c.created_at,
            RUNS.c.status,
            RUNS.c.body["assistant_id"].as_string(),
        ).where(RUNS.c.seq.in_(newest(RUNS)), RUNS.c.tenant == tenant)
    )
    for thread_id, run_id, created_at, status, assistant_id in run_rows:
        summaries[thread_id]["last_run"] = {
            "id": run_id,
            "assistant_id": assistant_id,
            "status": status,
            "created_at": created_at,
        }
    return summaries
