"""Uploads: a file sent in parts (each up to 64 MB, in parallel if wished), assembled in the
order `complete` names, optionally checked against an md5, within an hour of creation."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import APIError, invalid, not_found
from ..ids import new_id
from ..state import EngineState
from ..store import file_store
from . import files
from .common import now

UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision")
PART_MAX_BYTES = 64 * 1024 * 1024
UPLOAD_TTL = 3600  # an upload expires an hour after it was created
MAX_MIME_TYPE = 255


def _not_pending(upload: dict[str, Any], doing: str) -> APIError:
    return invalid(
        None, f"Cannot {doing} Upload {upload['id']}: its status is '{upload['status']}'."
    )


async def create_upload(state: EngineState, tenant: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Open an upload of `bytes` bytes for a file named `filename`."""
    purpose = fields["purpose"]
    files.check_purpose(purpose, UPLOAD_PURPOSES)
    filename = files.check_filename(fields["filename"], "filename")
    size = fields["bytes"]
    limit = state.settings.file_max_bytes
    if not 0 <= size <= limit:
        raise invalid("bytes", f"Invalid 'bytes': must be from 0 to {limit} (FILE_MAX_BYTES).")
    mime_type = fields["mime_type"]
    if not mime_type.strip() or len(mime_type) > MAX_MIME_TYPE:
        raise invalid("mime_type", "Invalid 'mime_type': must be a MIME type such as 'text/plain'.")
    created_at = now()
    files.expiry(purpose, created_at, fields.get("expires_after"))  # refuse a bad one now
    await files.sweep(state)
    await files.check_quota(state, tenant, size)  # early; each part is counted as it is written
    body = {
        "id": new_id("upload"),
        "object": "upload",
        "bytes": size,
        "created_at": created_at,
        "filename": filename,
        "purpose": purpose,
        "status": "pending",
        "expires_at": created_at + UPLOAD_TTL,
        "file": None,
    }
    stored = {**body, "_mime_type": mime_type, "_expires_after": fields.get("expires_after")}
    async with state.db.write() as conn:
        await file_store.insert_upload(conn, stored, tenant)
    return body


def public(upload: dict[str, Any]) -> dict[str, Any]:
    """The Upload object without the engine's own fields."""
    return {key: value for key, value in upload.items() if not key.startswith("_")}


async def _pending_upload(
    conn: AsyncConnection, tenant: str, upload_id: str, doing: str
) -> dict[str, Any]:
    """The tenant's upload, locked, refusing unless it still takes parts (expiring it if due)."""
    upload = await file_store.get_upload(conn, tenant, upload_id, lock=True)
    if upload is None:
        raise not_found("upload", upload_id)
    if upload["status"] == "pending" and upload["expires_at"] <= now():
        upload = {**upload, "status": "expired"}  # the sweep records it and drops the parts
    if upload["status"] != "pending":
        raise _not_pending(upload, doing)
    return upload


async def add_part(
    state: EngineState,
    tenant: str,
    upload_id: str,
    chunks: AsyncIterator[bytes],
    size: int | None = None,
) -> dict[str, Any]:
    """Store one part of a pending upload (`size`: its bytes when known); answers the Part
    object."""
    db = state.db
    part_id = new_id("part")
    part = {
        "id": part_id,
        "object": "upload.part",
        "created_at": now(),
        "upload_id": upload_id,
    }
    async with db.write() as conn:
        upload = await _pending_upload(conn, tenant, upload_id, "add a part to")
        await file_store.insert_part(conn, part, tenant, upload_id)
    limit = min(PART_MAX_BYTES, upload["bytes"])
    try:
        size, pieces = await files.write_pieces(
            state,
            tenant,
            (file_store.UPLOAD_PARTS, part_id),
            chunks,
            limit,
            "The part",
            expected=size,
        )
        async with db.write() as conn:
            upload = await _pending_upload(conn, tenant, upload_id, "add a part to")
            held = await file_store.parts_bytes(conn, upload_id)  # this part's bytes included
            if held > upload["bytes"]:
                raise invalid(
                    "data",
                    f"The parts would hold {held} bytes; Upload {upload_id} was created "
                    f"for {upload['bytes']}.",
                )
            await file_store.finish_part(conn, part_id, size, pieces)
    except BaseException:
        await asyncio.shield(_drop_part(state, part_id))
        raise
    return part


async def _drop_part(state: EngineState, part_id: str) -> None:
    async with state.db.write() as conn:
        await file_store.delete_part(conn, part_id)


async def complete_upload(
    state: EngineState, tenant: str, upload_id: str, part_ids: list[str], md5: str | None
) -> dict[str, Any]:
    """Assemble the named parts, in order, into a File (no bytes copied: the parts' pieces
    become the file's); refuses a wrong byte count or md5 and leaves the upload pending."""
    if len(set(part_ids)) != len(part_ids):
        raise invalid("part_ids", "Invalid 'part_ids': a part is named more than once.")
    db = state.db
    async with db.read() as conn:
        upload = await file_store.get_upload(conn, tenant, upload_id)
        parts = await file_store.ready_parts(conn, upload_id) if upload else {}
    if upload is None:
        raise not_found("upload", upload_id)
    _check_parts(upload, part_ids, parts)
    if md5 is not None:
        digest = await _md5(state, part_ids)
        if digest != md5.strip().lower():
            raise invalid("md5", f"Invalid 'md5': the parts' md5 is {digest}, not {md5}.")
    file = files.file_body(
        new_id("file", "-", 22),
        upload["filename"],
        upload["purpose"],
        upload["bytes"],
        now(),
        None,
    )
    expires_at = files.expiry(upload["purpose"], file["created_at"], upload.get("_expires_after"))
    if expires_at is not None:
        file["expires_at"] = expires_at
    async with db.write() as conn:
        upload = await _pending_upload(conn, tenant, upload_id, "complete")
        parts = await file_store.ready_parts(conn, upload_id)
        _check_parts(upload, part_ids, parts)  # again, under the lock: a cancel may have won
        await file_store.insert_file(conn, file, tenant, "ready")
        offset = 0
        for part_id in part_ids:
            await file_store.reown_chunks(conn, part_id, file["id"], offset)
            offset += parts[part_id][1]
        await file_store.drop_parts(conn, upload_id)
        upload = {**upload, "status": "completed", "file": file}
        await file_store.save_upload(conn, upload)
    return public(upload)


def _check_parts(
    upload: dict[str, Any], part_ids: list[str], parts: dict[str, tuple[int, int]]
) -> None:
    if upload["status"] != "pending":
        raise _not_pending(upload, "complete")
    for index, part_id in enumerate(part_ids):
        if part_id not in parts:
            message = f"Invalid 'part_ids[{index}]': Upload {upload['id']} has no part '{part_id}'."
            raise invalid(f"part_ids[{index}]", message)
    total = sum(parts[p][0] for p in part_ids)
    if total != upload["bytes"]:
        raise invalid(
            "part_ids",
            f"The parts hold {total} bytes; Upload {upload['id']} was created for "
            f"{upload['bytes']}.",
        )


async def _md5(state: EngineState, part_ids: list[str]) -> str:
    """md5 of the parts' bytes in the given order, read piece by piece."""
    digest = hashlib.md5(usedforsecurity=False)
    for part_id in part_ids:
        index = 0
        while True:
            async with state.db.read() as conn:
                piece = await file_store.next_chunk(conn, part_id, index)
            if piece is None:
                break
            index = piece[0] + 1
            digest.update(piece[1])
    return digest.hexdigest()


async def cancel_upload(state: EngineState, tenant: str, upload_id: str) -> dict[str, Any]:
    async with state.db.write() as conn:
        upload = await _pending_upload(conn, tenant, upload_id, "cancel")
        await file_store.drop_parts(conn, upload_id)
        upload = {**upload, "status": "cancelled"}
        await file_store.save_upload(conn, upload)
    return public(upload)
