"""The SQL of files, uploads and their bytes (pieces in `blob_chunks`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, cast, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from . import tables

FILES = tables.files
UPLOADS = tables.uploads
UPLOAD_PARTS = tables.upload_parts
CHUNKS = tables.blob_chunks


def live_file(tenant: str, now: int) -> Any:
    """The condition for a tenant's file that is readable: written in full and not expired."""
    return and_(
        FILES.c.tenant == tenant,
        FILES.c.status == "ready",
        or_(FILES.c.expires_at.is_(None), FILES.c.expires_at > now),
    )


async def insert_file(
    conn: AsyncConnection, body: dict[str, Any], tenant: str, status: str
) -> None:
    await conn.execute(
        insert(FILES).values(
            id=body["id"],
            tenant=tenant,
            created_at=body["created_at"],
            purpose=body["purpose"],
            status=status,
            bytes=body["bytes"],
            expires_at=body.get("expires_at"),
            body=body,
        )
    )


async def finish_file(conn: AsyncConnection, body: dict[str, Any]) -> None:
    """Mark a written file ready, with its final document."""
    await conn.execute(
        update(FILES)
        .where(FILES.c.id == body["id"])
        .values(status="ready", bytes=body["bytes"], body=body)
    )


async def get_file(
    conn: AsyncConnection, tenant: str, file_id: str, now: int
) -> dict[str, Any] | None:
    query = select(FILES.c.body).where(FILES.c.id == file_id, live_file(tenant, now))
    return (await conn.execute(query)).scalar_one_or_none()


async def existing_file_ids(
    conn: AsyncConnection, tenant: str, file_ids: list[str], now: int
) -> set[str]:
    """Which of `file_ids` name readable files of the tenant."""
    if not file_ids:
        return set()
    query = select(FILES.c.id).where(FILES.c.id.in_(file_ids), live_file(tenant, now))
    return set((await conn.execute(query)).scalars())


async def delete_file_row(conn: AsyncConnection, tenant: str, file_id: str) -> bool:
    result = await conn.execute(
        delete(FILES).where(FILES.c.id == file_id, FILES.c.tenant == tenant)
    )
    await delete_chunks(conn, file_id)
    return result.rowcount > 0


async def stale_file_ids(
    conn: AsyncConnection, *, now: int, writing_before: int
) -> list[tuple[str, str]]:
    """(file_id, tenant) of files to remove: expired ones, and ones whose writer died (still
    'writing' long after they were created)."""
    query = (
        select(FILES.c.id, FILES.c.tenant)
        .where(
            or_(
                and_(FILES.c.expires_at.is_not(None), FILES.c.expires_at <= now),
                and_(FILES.c.status == "writing", FILES.c.created_at < writing_before),
            )
        )
        .limit(100)
    )
    return [(row[0], row[1]) for row in await conn.execute(query)]


# --- bytes --------------------------------------------------------------------------------------


async def lock_tenant_storage(conn: AsyncConnection, tenant: str) -> None:
    """Serialize the tenant's storage writes until this transaction ends, so a quota check
    and the write it allows are one step. PostgreSQL: a transaction-scoped advisory lock on
    the tenant; SQLite's write transactions are already exclusive (BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        key = func.hashtextextended("file-storage:" + tenant, 0)
        await conn.execute(select(func.pg_advisory_xact_lock(key)))


async def tenant_bytes(conn: AsyncConnection, tenant: str) -> int:
    """Bytes the tenant stores: its files (also those being written, counted as they grow)
    and its uploads' parts."""
    files = select(func.coalesce(func.sum(FILES.c.bytes), 0)).where(FILES.c.tenant == tenant)
    parts = select(func.coalesce(func.sum(UPLOAD_PARTS.c.bytes), 0)).where(
        UPLOAD_PARTS.c.tenant == tenant
    )
    return int((await conn.execute(files)).scalar_one()) + int(
        (await conn.execute(parts)).scalar_one()
    )


async def grow(conn: AsyncConnection, table: Any, owner_id: str, size: int) -> None:
    """Count `size` more bytes on a file or part row being written."""
    await conn.execute(
        update(table).where(table.c.id == owner_id).values(bytes=table.c.bytes + size)
    )


async def insert_chunk(conn: AsyncConnection, owner_id: str, index: int, data: bytes) -> None:
    await conn.execute(insert(CHUNKS).values(owner_id=owner_id, idx=index, data=data))


async def next_chunk(conn: AsyncConnection, owner_id: str, start: int) -> tuple[int, bytes] | None:
    """The first piece of `owner_id` at index `start` or later, as (index, bytes)."""
    query = (
        select(CHUNKS.c.idx, CHUNKS.c.data)
        .where(CHUNKS.c.owner_id == owner_id, CHUNKS.c.idx >= start)
        .order_by(CHUNKS.c.idx)
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return None if row is None else (int(row[0]), bytes(row[1]))


async def delete_chunks(conn: AsyncConnection, *owner_ids: str) -> None:
    if owner_ids:
        await conn.execute(delete(CHUNKS).where(CHUNKS.c.owner_id.in_(owner_ids)))


async def reown_chunks(conn: AsyncConnection, owner_id: str, new_owner: str, offset: int) -> None:
    """Hand `owner_id`'s pieces to `new_owner`, their indexes shifted by `offset`."""
    await conn.execute(
        update(CHUNKS)
        .where(CHUNKS.c.owner_id == owner_id)
        .values(owner_id=new_owner, idx=CHUNKS.c.idx + offset)
    )


# --- uploads ------------------------------------------------------------------------------------


async def insert_upload(conn: AsyncConnection, body: dict[str, Any], tenant: str) -> None:
    await conn.execute(
        insert(UPLOADS).values(
            id=body["id"],
            tenant=tenant,
            created_at=body["created_at"],
            status=body["status"],
            expires_at=body["expires_at"],
            body=body,
        )
    )


async def get_upload(
    conn: AsyncConnection, tenant: str, upload_id: str, *, lock: bool = False
) -> dict[str, Any] | None:
    query = select(UPLOADS.c.body).where(UPLOADS.c.id == upload_id, UPLOADS.c.tenant == tenant)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).scalar_one_or_none()


async def save_upload(conn: AsyncConnection, body: dict[str, Any]) -> None:
    await conn.execute(
        update(UPLOADS).where(UPLOADS.c.id == body["id"]).values(status=body["status"], body=body)
    )


async def expired_pending_uploads(conn: AsyncConnection, now: int) -> list[dict[str, Any]]:
    query = (
        select(UPLOADS.c.body)
        .where(UPLOADS.c.status == "pending", UPLOADS.c.expires_at <= now)
        .limit(100)
    )
    return list((await conn.execute(query)).scalars())


async def insert_part(
    conn: AsyncConnection, body: dict[str, Any], tenant: str, upload_id: str
) -> None:
    await conn.execute(
        insert(UPLOAD_PARTS).values(
            id=body["id"],
            tenant=tenant,
            upload_id=upload_id,
            created_at=body["created_at"],
            status="writing",
            bytes=0,
            chunks=0,
            body=body,
        )
    )


async def finish_part(conn: AsyncConnection, part_id: str, size: int, chunks: int) -> None:
    await conn.execute(
        update(UPLOAD_PARTS)
        .where(UPLOAD_PARTS.c.id == part_id)
        .values(status="ready", bytes=size, chunks=chunks)
    )


async def delete_part(conn: AsyncConnection, part_id: str) -> None:
    await conn.execute(delete(UPLOAD_PARTS).where(UPLOAD_PARTS.c.id == part_id))
    await delete_chunks(conn, part_id)


async def ready_parts(conn: AsyncConnection, upload_id: str) -> dict[str, tuple[int, int]]:
    """{part_id: (bytes, pieces)} of the upload's fully written parts."""
    query = select(UPLOAD_PARTS.c.id, UPLOAD_PARTS.c.bytes, UPLOAD_PARTS.c.chunks).where(
        UPLOAD_PARTS.c.upload_id == upload_id, UPLOAD_PARTS.c.status == "ready"
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in await conn.execute(query)}


async def parts_bytes(conn: AsyncConnection, upload_id: str) -> int:
    """Bytes held by the upload's parts, written or being written."""
    query = select(func.coalesce(func.sum(UPLOAD_PARTS.c.bytes), 0)).where(
        UPLOAD_PARTS.c.upload_id == upload_id
    )
    return int((await conn.execute(query)).scalar_one())


async def drop_parts(conn: AsyncConnection, upload_id: str) -> None:
    """Remove all of an upload's parts and their pieces."""
    part_ids = list(
        (
            await conn.execute(
                select(UPLOAD_PARTS.c.id).where(UPLOAD_PARTS.c.upload_id == upload_id)
            )
        ).scalars()
    )
    await delete_chunks(conn, *part_ids)
    await conn.execute(delete(UPLOAD_PARTS).where(UPLOAD_PARTS.c.upload_id == upload_id))


# --- references to files in assistants and threads ---------------------------------------------


async def bodies_mentioning(
    conn: AsyncConnection, table: Any, tenant: str, text: str
) -> list[dict[str, Any]]:
    """Bodies of the tenant's objects whose JSON contains `text` (a file ID), locked."""
    query = (
        select(table.c.body)
        .where(table.c.tenant == tenant, cast(table.c.body, String).contains(text))
        .with_for_update()
    )
    return list((await conn.execute(query)).scalars())
