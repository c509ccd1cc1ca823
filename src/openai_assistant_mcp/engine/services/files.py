"""Files: store (streamed, in bounded pieces), retrieve, list, read back, delete.

A file is written piece by piece, each piece in its own short transaction, while its row says
'writing' (invisible to every reader); it turns 'ready' in one last transaction. A failed or
abandoned write leaves nothing visible, and the sweep removes what a dead process left behind."""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import APIError, invalid
from ..ids import new_id
from ..state import EngineState
from ..store import file_store, repository, vector_repository
from ..store.database import Database
from .common import ListQuery, list_envelope, now

CHUNK_BYTES = 1024 * 1024  # one stored piece: bounds memory per request and row size
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data")
# Purposes only the engine itself gives (never accepted from an upload): code_interpreter output.
OUTPUT_PURPOSES = ("assistants_output",)
EXPIRY_SECONDS = (3600, 2_592_000)  # expires_after.seconds bounds (1 hour .. 30 days)
BATCH_DEFAULT_EXPIRY = 2_592_000  # batch files expire after 30 days unless told otherwise
MAX_FILENAME = 1024
ABANDONED_AFTER = 6 * 3600  # a file still 'writing' after this long lost its writer
_SWEEP_EVERY = 60.0
_last_sweep = 0.0


def no_such_file(file_id: str) -> APIError:
    return APIError(404, f"No such File object: {file_id}", param="id")


def too_large(what: str, limit: int) -> APIError:
    return APIError(
        413,
        f"{what} exceeds the maximum size of {limit} bytes.",
        param="file",
        code="file_too_large",
    )


def check_purpose(purpose: str, allowed: tuple[str, ...] = PURPOSES) -> None:
    if purpose == "evals":  # taken by the spec's create, yet no File object may carry it
        message = "Invalid 'purpose': 'evals' files are for the Evals API, not served here."
        raise invalid("purpose", message)
    if purpose not in allowed:
        choices = ", ".join(f"'{p}'" for p in allowed)
        raise invalid("purpose", f"Invalid 'purpose': '{purpose}' is not one of {choices}.")


def valid_utf8(text: str) -> str:
    """`text` as valid UTF-8: lone surrogates (bytes of a name that were not UTF-8) become
    U+FFFD, so no stored name can make an answer fail to encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode(
            "utf-8", "surrogateescape" if _escaped(text) else "surrogatepass"
        ).decode("utf-8", "replace")
    return text


def _escaped(text: str) -> bool:
    return all(not "\ud800" <= c <= "\udfff" or "\udc80" <= c <= "\udcff" for c in text)


def readable(body: dict[str, Any]) -> dict[str, Any]:
    """A file's body as answered: a name stored before names were sanitised, made valid."""
    name = body.get("filename")
    if isinstance(name, str) and (fixed := valid_utf8(name)) != name:
        return {**body, "filename": fixed}
    return body


def check_filename(filename: str | None, param: str = "file") -> str:
    name = valid_utf8(filename or "").strip()
    if not name:
        raise invalid(param, f"Invalid '{param}': the file needs a name.")
    if len(name) > MAX_FILENAME or "\x00" in name:
        raise invalid(param, f"Invalid '{param}': the file name is too long or has a NUL.")
    return name


def expiry(purpose: str, created_at: int, expires_after: dict[str, Any] | None) -> int | None:
    """`expires_at` for a new file: from `expires_after`, or 30 days for batch files."""
    if expires_after is None:
        return created_at + BATCH_DEFAULT_EXPIRY if purpose == "batch" else None
    anchor = expires_after.get("anchor")
    if anchor != "created_at":
        raise invalid(
            "expires_after.anchor", "Invalid 'expires_after.anchor': must be 'created_at'."
        )
    seconds = expires_after.get("seconds")
    low, high = EXPIRY_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not low <= seconds <= high:
        message = f"Invalid 'expires_after.seconds': must be an integer from {low} to {high}."
        raise invalid("expires_after.seconds", message)
    return created_at + seconds


def file_body(
    file_id: str, filename: str, purpose: str, size: int, created_at: int, expires_at: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": created_at,
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
    }
    if expires_at is not None:
        body["expires_at"] = expires_at
    return body


def over_quota(used: int, quota: int) -> APIError:
    return APIError(
        400,
        f"Storage quota exceeded: this key's files would take {used} bytes; the quota is "
        f"{quota} bytes (FILE_STORAGE_QUOTA_BYTES). Delete files to make room.",
        param="file",
        code="storage_quota_exceeded",
    )


async def check_quota(state: EngineState, tenant: str, adding: int) -> None:
    """Refuse now (400) if `adding` more bytes cannot fit in the tenant's quota."""
    async with state.db.read() as conn:
        used = await file_store.tenant_bytes(conn, tenant)
    if used + adding > state.settings.file_storage_quota_bytes:
        raise over_quota(used + adding, state.settings.file_storage_quota_bytes)


async def write_pieces(
    state: EngineState,
    tenant: str,
    owner: tuple[Any, str],
    chunks: AsyncIterator[bytes],
    limit: int,
    what: str,
    *,
    expected: int | None = None,
) -> tuple[int, int]:
    """Store `chunks` as pieces of CHUNK_BYTES under `owner` (its table and id); (bytes,
    pieces). Refuses (413) past `limit` bytes, and (400) past the tenant's storage quota.
    The bytes are counted on the owner's row before they are stored, after a check of the
    tenant's total under a per-tenant lock (file_store.lock_tenant_storage), so concurrent
    writes cannot pass the quota together: `expected` (the size, when the caller knows it) is
    counted at once, so a write that cannot fit is refused before any byte is stored, and
    bytes past it are counted piece by piece. Memory held: at most about two pieces."""
    db, quota = state.db, state.settings.file_storage_quota_bytes
    table, owner_id = owner
    buffer = bytearray()
    size = count = counted = 0

    async def account(conn: AsyncConnection, total: int) -> None:
        nonlocal counted
        if total <= counted:
            return
        await file_store.lock_tenant_storage(conn, tenant)
        used = await file_store.tenant_bytes(conn, tenant)
        if used + total - counted > quota:
            raise over_quota(used + total - counted, quota)
        await file_store.grow(conn, table, owner_id, total - counted)
        counted = total

    async def flush(data: bytes) -> None:
        nonlocal count
        async with db.write() as conn:
            await account(conn, count * CHUNK_BYTES + len(data))
            await file_store.insert_chunk(conn, owner_id, count, data)
        count += 1

    if expected:
        if expected > limit:
            raise too_large(what, limit)
        async with db.write() as conn:
            await account(conn, expected)
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(what, limit)
        buffer += chunk
        while len(buffer) >= CHUNK_BYTES:
            await flush(bytes(buffer[:CHUNK_BYTES]))
            del buffer[:CHUNK_BYTES]
    if buffer:
        await flush(bytes(buffer))
    return size, count


async def forget(db: Database, tenant: str, file_id: str) -> None:
    """Remove a half-written file (its row and pieces), even while being cancelled."""

    async def remove() -> None:
        async with db.write() as conn:
            await file_store.delete_file_row(conn, tenant, file_id)

    await asyncio.shield(remove())


async def create_file(
    state: EngineState,
    tenant: str,
    filename: str,
    purpose: str,
    chunks: AsyncIterator[bytes],
    *,
    expires_after: dict[str, Any] | None = None,
    purposes: tuple[str, ...] = PURPOSES,
    size: int | None = None,
) -> dict[str, Any]:
    """Store a file streamed as `chunks`; answers the File object once it is readable.
    `purposes`: what this caller may create (the engine passes OUTPUT_PURPOSES); `size`: its
    bytes when known (checked against the quota before any is stored)."""
    check_purpose(purpose, purposes)
    filename = check_filename(filename)
    created_at = now()
    expires_at = expiry(purpose, created_at, expires_after)
    await sweep(state)
    db = state.db
    body = file_body(new_id("file", "-", 22), filename, purpose, 0, created_at, expires_at)
    async with db.write() as conn:
        await file_store.insert_file(conn, body, tenant, "writing")
    try:
        size, _ = await write_pieces(
            state,
            tenant,
            (file_store.FILES, body["id"]),
            chunks,
            state.settings.file_max_bytes,
            "The file",
            expected=size,
        )
        body["bytes"] = size
        async with db.write() as conn:
            await file_store.finish_file(conn, body)
    except BaseException:
        await forget(db, tenant, body["id"])
        raise
    return body


async def retrieve_file(state: EngineState, tenant: str, file_id: str) -> dict[str, Any]:
    async with state.db.read_keyed() as conn:
        body = await file_store.get_file(conn, tenant, file_id, now())
    if body is None:
        raise no_such_file(file_id)
    return readable(body)


async def list_files(
    state: EngineState, tenant: str, query: ListQuery, purpose: str | None = None
) -> dict[str, Any]:
    """A page of the tenant's readable files, optionally of one purpose."""
    conditions = [file_store.live_file(tenant, now())]
    if purpose is not None:
        conditions.append(file_store.FILES.c.purpose == purpose)
    async with state.db.read_keyed() as conn:
        try:
            page = await repository.list_page(
                conn,
                file_store.FILES,
                tenant,
                limit=query.limit,
                order=query.order,
                after=query.after,
                before=query.before,
                where=conditions,
            )
        except repository.CursorNotFound as exc:
            message = f"Invalid '{exc.param}': no file with id '{query.after or query.before}'."
            raise invalid(exc.param, message) from None
    # One row holding an odd name never fails the whole list.
    return list_envelope(replace(page, data=[readable(body) for body in page.data]))


async def iter_file_content(state: EngineState, tenant: str, file_id: str) -> AsyncIterator[bytes]:
    """The file's bytes, piece by piece (404 before the first piece if there is no such file).
    Each piece is read in its own short transaction, so a slow reader holds no connection."""
    await retrieve_file(state, tenant, file_id)
    async for piece in pieces(state.db, file_id):
        yield piece


async def pieces(db: Database, owner_id: str) -> AsyncIterator[bytes]:
    """The stored pieces of a file or upload part, in order, one short read each."""
    index = 0
    while True:
        async with db.read() as conn:
            piece = await file_store.next_chunk(conn, owner_id, index)
        if piece is None:
            return
        index = piece[0] + 1
        yield piece[1]


async def read_file_bytes(state: EngineState, tenant: str, file_id: str, max_bytes: int) -> bytes:
    """The whole file in memory; refuses (400, code 'file_too_large') a file over `max_bytes`."""
    body = await retrieve_file(state, tenant, file_id)
    if body["bytes"] > max_bytes:
        raise APIError(
            400,
            f"File '{file_id}' has {body['bytes']} bytes; at most {max_bytes} can be read here.",
            param="file_id",
            code="file_too_large",
        )
    return b"".join([piece async for piece in iter_file_content(state, tenant, file_id)])


IMAGE_MAX_BYTES = 20 * 1024 * 1024  # OpenAI's limit for one image input
MAX_IMAGES_PER_TURN = 10  # the newest ones: bounds what one provider request holds
IMAGE_BYTES_PER_TURN = 32 * 1024 * 1024  # and their bytes together (base64 adds a third)
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(data: bytes, filename: str) -> str | None:
    """The image MIME type of `data` (by its signature, else by the file name), or None."""
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed = mimetypes.guess_type(filename)[0]
    return guessed if guessed and guessed.startswith("image/") else None


async def image_data_urls(db: Database, tenant: str, file_ids: list[str]) -> dict[str, str]:
    """{file_id: data URL} for the newest MAX_IMAGES_PER_TURN image files named, within
    IMAGE_BYTES_PER_TURN; files that are gone, too large or not images are left out."""
    urls: dict[str, str] = {}
    budget = IMAGE_BYTES_PER_TURN
    for file_id in list(dict.fromkeys(reversed(file_ids)))[:MAX_IMAGES_PER_TURN]:
        async with db.read() as conn:
            body = await file_store.get_file(conn, tenant, file_id, now())
        if body is None or body["bytes"] > min(IMAGE_MAX_BYTES, budget):
            continue
        budget -= body["bytes"]
        data = b"".join([piece async for piece in pieces(db, file_id)])
        mime = image_type(data, body["filename"])
        if mime is not None:
            urls[file_id] = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return urls


async def delete_file(state: EngineState, tenant: str, file_id: str) -> dict[str, Any]:
    """Delete the file and its bytes, and detach it from the tenant's assistants and threads."""
    async with state.db.write() as conn:
        if await file_store.get_file(conn, tenant, file_id, now()) is None:
            raise no_such_file(file_id)
        await file_store.delete_file_row(conn, tenant, file_id)
        await detach_file(conn, tenant, file_id)
    state.ingestion.cancel(file_id=file_id)
    return {"id": file_id, "object": "file", "deleted": True}


async def detach_file(conn: AsyncConnection, tenant: str, file_id: str) -> None:
    """Drop `file_id` from code_interpreter.file_ids of the tenant's assistants and threads,
    and from every vector store of the tenant."""
    await vector_repository.detach_file_everywhere(conn, tenant, file_id)
    for table in (repository.ASSISTANTS, repository.THREADS):
        for body in await file_store.bodies_mentioning(conn, table, tenant, file_id):
            resources = dict(body.get("tool_resources") or {})
            interpreter = dict(resources.get("code_interpreter") or {})
            file_ids = interpreter.get("file_ids") or []
            if file_id not in file_ids:
                continue
            interpreter["file_ids"] = [f for f in file_ids if f != file_id]
            resources["code_interpreter"] = interpreter
            await repository.replace_body(
                conn, table, body["id"], {**body, "tool_resources": resources}
            )


async def sweep(state: EngineState, *, force: bool = False) -> None:
    """Remove expired files, files a dead process left half-written, and expired uploads'
    parts. Runs at most once a minute per process (called on the write paths)."""
    global _last_sweep
    if not force and time.monotonic() - _last_sweep < _SWEEP_EVERY:
        return
    _last_sweep = time.monotonic()
    moment = now()
    async with state.db.write() as conn:
        stale = await file_store.stale_file_ids(
            conn, now=moment, writing_before=moment - ABANDONED_AFTER
        )
        for file_id, tenant in stale:
            await file_store.delete_file_row(conn, tenant, file_id)
            await detach_file(conn, tenant, file_id)
        for upload in await file_store.expired_pending_uploads(conn, moment):
            await file_store.drop_parts(conn, upload["id"])
            await file_store.save_upload(conn, {**upload, "status": "expired"})
    for file_id, _ in stale:  # expired files being ingested here: their children are killed
        state.ingestion.cancel(file_id=file_id)
