"""The SQL of the tenant admin commands: count each tenant's objects, move them to another."""

from __future__ import annotations

from sqlalchemy import Table, func, select, update

from . import file_store, tables, vector_tables  # noqa: F401 - registers the vector tables
from .database import Database


def tenant_tables() -> list[Table]:
    """Every table whose rows belong to a tenant (any table with a `tenant` column in the
    store's metadata; rows without one, e.g. file chunks, hang off a row that has one)."""
    return [table for table in tables.metadata.sorted_tables if "tenant" in table.c]


async def count_by_tenant(db: Database) -> dict[str, dict[str, int]]:
    """{tenant: {table: rows}} over every tenant that has any row."""
    counts: dict[str, dict[str, int]] = {}
    async with db.read() as conn:
        for table in tenant_tables():
            query = select(table.c.tenant, func.count()).group_by(table.c.tenant)
            for tenant, rows in await conn.execute(query):
                counts.setdefault(tenant, {})[table.name] = int(rows)
    return counts


class OverQuota(Exception):
    """The new tenant would store `total` bytes, past the quota: nothing was moved."""

    def __init__(self, total: int) -> None:
        super().__init__(total)
        self.total = total


async def move_tenant(
    db: Database, old: str, new: str, max_bytes: int | None = None
) -> dict[str, int]:
    """Give every row of tenant `old` to `new`, in one transaction; rows moved per table.
    With `max_bytes`, raises OverQuota (moving nothing) when the stored bytes of both together
    would pass it, checked under both tenants' storage locks (as uploads take them)."""
    moved: dict[str, int] = {}
    async with db.write() as conn:
        if max_bytes is not None:
            for tenant in sorted((old, new)):  # one order for every taker: no deadlock
                await file_store.lock_tenant_storage(conn, tenant)
            total = await file_store.tenant_bytes(conn, old) + await file_store.tenant_bytes(
                conn, new
            )
            if total > max_bytes:
                raise OverQuota(total)
        for table in tenant_tables():
            changed = update(table).where(table.c.tenant == old).values(tenant=new)
            moved[table.name] = (await conn.execute(changed)).rowcount
    return moved


async def owns_anything(db: Database, tenant: str) -> bool:
    """Whether `tenant` owns an assistant or a thread (indexed look-ups; messages, runs and
    steps hang off threads)."""
    async with db.read() as conn:
        for table in (tables.assistants, tables.threads):
            query = select(table.c.seq).where(table.c.tenant == tenant).limit(1)
            if (await conn.execute(query)).first() is not None:
                return True
    return False
