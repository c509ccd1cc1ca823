"""The SQL of the tenant admin commands: count each tenant's objects, move them to another."""

from __future__ import annotations

from sqlalchemy import Table, func, select, update

from . import tables, vector_tables  # noqa: F401 - registers the vector stores' tables
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


async def move_tenant(db: Database, old: str, new: str) -> dict[str, int]:
    """Give every row of tenant `old` to `new`, in one transaction; rows moved per table."""
    moved: dict[str, int] = {}
    async with db.write() as conn:
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
