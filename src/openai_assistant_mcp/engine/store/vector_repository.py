"""Vector stores' SQL: stores, and their files as queued work (claims and leases, as runs).
Chunks and the rankings are in `vector_chunks`, whose writers the ingestion worker reaches
through this module too."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from . import vector_tables as vt

# Re-exported: the worker and the services write chunks through this module.
from .vector_chunks import CHUNKS as CHUNKS
from .vector_chunks import delete_file_chunks as delete_file_chunks
from .vector_chunks import ensure_hnsw_index as ensure_hnsw_index
from .vector_chunks import file_chunk_texts as file_chunk_texts
from .vector_chunks import has_pgvector as has_pgvector
from .vector_chunks import replace_file_chunks as replace_file_chunks

STORES = vt.vector_stores
FILES = vt.vector_store_files
BATCHES = vt.vector_store_file_batches


# --- stores -----------------------------------------------------------------------------------


async def store_embedding(
    conn: AsyncConnection, store_id: str
) -> tuple[dict[str, Any], int] | None:
    """(embedding record, generation) of a store."""
    row = (
        await conn.execute(
            select(STORES.c.embedding, STORES.c.generation).where(STORES.c.id == store_id)
        )
    ).first()
    return (row[0], int(row[1])) if row else None


async def stores_of_tenant(
    conn: AsyncConnection, tenant: str, store_ids: Sequence[str]
) -> dict[str, tuple[dict[str, Any], dict[str, Any], int]]:
    """{id: (body, embedding record, generation)} of the tenant's stores among `store_ids`."""
    query = select(STORES.c.id, STORES.c.body, STORES.c.embedding, STORES.c.generation).where(
        STORES.c.tenant == tenant, STORES.c.id.in_(list(store_ids))
    )
    return {row[0]: (row[1], row[2], int(row[3])) for row in await conn.execute(query)}


async def set_store_embedding(conn: AsyncConnection, store_id: str, record: dict[str, Any]) -> None:
    await conn.execute(update(STORES).where(STORES.c.id == store_id).values(embedding=record))


async def bump_generation(conn: AsyncConnection, store_id: str) -> None:
    await conn.execute(
        update(STORES).where(STORES.c.id == store_id).values(generation=STORES.c.generation + 1)
    )


async def file_counts(
    conn: AsyncConnection, store_ids: Sequence[str], *, batch_id: str | None = None
) -> dict[str, dict[str, int]]:
    """{store_id: {status: count, "usage_bytes": n}} over the stores' (or a batch's) files."""
    query = select(
        FILES.c.vector_store_id, FILES.c.status, func.count(), func.sum(FILES.c.usage_bytes)
    ).group_by(FILES.c.vector_store_id, FILES.c.status)
    if batch_id is not None:
        query = query.where(FILES.c.batch_id == batch_id)
    else:
        query = query.where(FILES.c.vector_store_id.in_(list(store_ids)))
    out: dict[str, dict[str, int]] = {}
    for store_id, status, count, usage in await conn.execute(query):
        entry = out.setdefault(store_id, {"usage_bytes": 0})
        entry[status] = int(count)
        entry["usage_bytes"] += int(usage or 0)
    return out


# --- files: queued work ----------------------------------------------------------------------


@dataclass(frozen=True)
class FileWork:
    """A vector store file to ingest, as claimed by a worker."""

    file_id: str
    vector_store_id: str
    tenant: str
    attempts: int
    body: dict[str, Any]


async def insert_files(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(FILES), rows)


async def get_file(
    conn: AsyncConnection, store_id: str, file_id: str, *, lock: bool = False
) -> tuple[dict[str, Any], str, str | None, int] | None:
    """(body, status, lease_owner, usage_bytes) of a store's file."""
    query = select(FILES.c.body, FILES.c.status, FILES.c.lease_owner, FILES.c.usage_bytes).where(
        FILES.c.vector_store_id == store_id, FILES.c.id == file_id
    )
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return (row[0], row[1], row[2], int(row[3])) if row else None


async def existing_file_ids(conn: AsyncConnection, store_id: str, file_ids: list[str]) -> set[str]:
    query = select(FILES.c.id).where(FILES.c.vector_store_id == store_id, FILES.c.id.in_(file_ids))
    return set((await conn.execute(query)).scalars())


async def count_files(conn: AsyncConnection, store_id: str) -> int:
    query = select(func.count()).select_from(FILES).where(FILES.c.vector_store_id == store_id)
    return int((await conn.execute(query)).scalar_one())


async def save_file(
    conn: AsyncConnection, store_id: str, file_id: str, body: dict[str, Any], **columns: Any
) -> None:
    values = {"body": body, "status": body["status"], **columns}
    await conn.execute(
        update(FILES)
        .where(FILES.c.vector_store_id == store_id, FILES.c.id == file_id)
        .values(**values)
    )


async def files_attributes(
    conn: AsyncConnection, store_ids: Sequence[str], file_ids: Sequence[str] | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """(store_id, file_id, attributes) of the stores' completed files (or of `file_ids`)."""
    query = select(FILES.c.vector_store_id, FILES.c.id, FILES.c.body).where(
        FILES.c.vector_store_id.in_(list(store_ids)), FILES.c.status == "completed"
    )
    if file_ids is not None:
        query = query.where(FILES.c.id.in_(list(file_ids)))
    return [(r[0], r[1], (r[2] or {}).get("attributes") or {}) for r in await conn.execute(query)]


async def stores_holding_file(conn: AsyncConnection, tenant: str, file_id: str) -> list[str]:
    query = select(FILES.c.vector_store_id).where(FILES.c.tenant == tenant, FILES.c.id == file_id)
    return list((await conn.execute(query)).scalars())


async def delete_file_row(conn: AsyncConnection, store_id: str, file_id: str) -> bool:
    result = await conn.execute(
        delete(FILES).where(FILES.c.vector_store_id == store_id, FILES.c.id == file_id)
    )
    return result.rowcount > 0


async def cancel_batch_files(conn: AsyncConnection, batch_id: str) -> list[str]:
    """Mark the batch's unfinished files cancelled; their IDs."""
    query = select(FILES.c.id, FILES.c.vector_store_id, FILES.c.body).where(
        FILES.c.batch_id == batch_id, FILES.c.status == "in_progress"
    )
    ids = []
    for file_id, store_id, body in list(await conn.execute(query)):
        await save_file(conn, store_id, file_id, {**body, "status": "cancelled"}, lease_owner=None)
        ids.append(file_id)
    return ids


def _claimable(now: float) -> Any:
    return (FILES.c.status == "in_progress") & (
        FILES.c.lease_expires_at.is_(None) | (FILES.c.lease_expires_at < now)
    )


async def any_claimable(conn: AsyncConnection, now: float) -> bool:
    return (
        await conn.execute(select(FILES.c.seq).where(_claimable(now)).limit(1))
    ).first() is not None


async def claim_files(
    conn: AsyncConnection, owner: str, *, now: float, lease_until: float, limit: int
) -> list[FileWork]:
    """Take queued files nobody ingests (never claimed, or lease ran out). Rows another
    transaction holds are skipped, so two processes never claim the same file."""
    query = (
        select(
            FILES.c.seq,
            FILES.c.id,
            FILES.c.vector_store_id,
            FILES.c.tenant,
            FILES.c.attempts,
            FILES.c.body,
        )
        .where(_claimable(now))
        .order_by(FILES.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(await conn.execute(query))
    if rows:
        await conn.execute(
            update(FILES)
            .where(FILES.c.seq.in_([row[0] for row in rows]))
            .values(lease_owner=owner, lease_expires_at=lease_until, attempts=FILES.c.attempts + 1)
        )
    return [FileWork(r[1], r[2], r[3], int(r[4]) + 1, r[5]) for r in rows]


async def renew_file_leases(
    conn: AsyncConnection, owner: str, keys: Iterable[tuple[str, str]], lease_until: float
) -> set[tuple[str, str]]:
    """Extend `owner`'s leases on (store_id, file_id) pairs; the pairs it still holds."""
    held = set()
    for store_id, file_id in keys:
        result = await conn.execute(
            update(FILES)
            .where(
                FILES.c.vector_store_id == store_id,
                FILES.c.id == file_id,
                FILES.c.lease_owner == owner,
                FILES.c.status == "in_progress",
            )
            .values(lease_expires_at=lease_until)
        )
        if result.rowcount:
            held.add((store_id, file_id))
    return held


async def release_file_leases(conn: AsyncConnection, owner: str) -> None:
    await conn.execute(
        update(FILES)
        .where(FILES.c.lease_owner == owner, FILES.c.status == "in_progress")
        .values(lease_expires_at=0.0)
    )


async def file_names(conn: AsyncConnection, tenant: str, file_ids: list[str]) -> dict[str, str]:
    """{file_id: filename} of the tenant's files among `file_ids`."""
    from .tables import files

    if not file_ids:
        return {}
    query = select(files.c.id, files.c.body).where(
        files.c.tenant == tenant, files.c.id.in_(file_ids)
    )
    return {row[0]: row[1].get("filename", row[0]) for row in await conn.execute(query)}


async def detach_file_everywhere(conn: AsyncConnection, tenant: str, file_id: str) -> None:
    """A deleted file leaves every vector store of the tenant (rows and chunks)."""
    for store_id in await stores_holding_file(conn, tenant, file_id):
        await delete_file_row(conn, store_id, file_id)
        await delete_file_chunks(conn, store_id, file_id)
        await bump_generation(conn, store_id)
