"""Files and Uploads through the official SDK, on SQLite and PostgreSQL; every response is
checked against the spec (conftest). Bad input is refused with a named cause and leaves no rows."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import httpx2
import openai
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from openai_assistant_mcp.engine.services import files as files_service
from openai_assistant_mcp.engine.store import tables
from tests.support.engine import engine_state

from .helpers import page_ids, tenant_of


async def counts(app: FastAPI) -> dict[str, int]:
    """Rows in the files' tables (to prove a refusal wrote nothing)."""
    found = {}
    async with engine_state(app).db.read() as conn:
        for table in (tables.files, tables.upload_parts, tables.blob_chunks):
            found[table.name] = (
                await conn.execute(select(func.count()).select_from(table))
            ).scalar_one()
    return found


async def test_file_lifecycle(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    data = b"hello files\n" * 1000
    created = await client.files.create(file=("notes.txt", data), purpose="assistants")
    assert created.id.startswith("file-") and created.object == "file"
    assert (created.bytes, created.filename, created.purpose) == (
        len(data),
        "notes.txt",
        "assistants",
    )
    assert created.status == "processed"

    assert (await client.files.retrieve(created.id)).model_dump() == created.model_dump()
    content = await client.files.content(created.id)
    assert content.content == data

    batch = await client.files.create(
        file=("b.jsonl", b"{}\n"),
        purpose="batch",
    )
    assert batch.expires_at == batch.created_at + 30 * 24 * 3600  # OpenAI's default for batch
    with pytest.raises(openai.BadRequestError) as evals:  # no Evals API here
        await client.files.create(file=("e.jsonl", b"{}"), purpose="evals")
    assert "Evals API" in evals.value.message
    timed = await client.files.create(
        file=("t.txt", b"x"),
        purpose="user_data",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert timed.expires_at == timed.created_at + 3600

    listed = await client.files.list()
    assert page_ids(listed) == [timed.id, batch.id, created.id]
    assert page_ids(await client.files.list(purpose="batch")) == [batch.id]
    assert page_ids(await client.files.list(order="asc", limit=2)) == [created.id, batch.id]
    page = await client.files.list(order="asc", limit=1, after=created.id)
    assert page_ids(page) == [batch.id] and page.has_more

    deleted = await client.files.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    with pytest.raises(openai.NotFoundError) as missing:
        await client.files.retrieve(created.id)
    assert missing.value.body["message"] == f"No such File object: {created.id}"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        await client.files.content(created.id)
    with pytest.raises(openai.NotFoundError):
        await client.files.delete(created.id)


async def test_binary_content_round_trips_across_pieces(
    tenant_client: openai.AsyncOpenAI,
) -> None:
    """Bytes spanning several stored pieces (and every byte value) come back identical."""
    data = bytes(range(256)) * (files_service.CHUNK_BYTES // 256 * 2 + 3)
    created = await tenant_client.files.create(file=("blob.bin", data), purpose="user_data")
    assert created.bytes == len(data)
    assert (await tenant_client.files.content(created.id)).content == data


async def test_chunked_upload_with_md5(tenant_client: openai.AsyncOpenAI, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    data = b"".join(b'{"n": %d}\n' % i for i in range(30_000))
    path.write_bytes(data)
    upload = await tenant_client.uploads.upload_file_chunked(
        file=path,
        mime_type="application/jsonl",
        purpose="batch",
        part_size=64 * 1024,
        md5=hashlib.md5(data).hexdigest(),
    )
    assert upload.status == "completed" and upload.file is not None
    assert upload.file.bytes == len(data) and upload.file.filename == "big.jsonl"
    assert (await tenant_client.files.content(upload.file.id)).content == data


async def test_upload_part_order_is_the_one_complete_names(
    tenant_client: openai.AsyncOpenAI,
) -> None:
    client = tenant_client
    upload = await client.uploads.create(
        bytes=6, filename="o.txt", mime_type="text/plain", purpose="assistants"
    )
    second = await client.uploads.parts.create(upload.id, data=b"world!")
    with pytest.raises(openai.BadRequestError) as wrong:
        await client.uploads.complete(upload.id, part_ids=[second.id, "part_nope"])
    assert wrong.value.body["param"] == "part_ids[1]"  # type: ignore[index]
    third = await client.uploads.parts.create(upload.id, data=b"")
    done = await client.uploads.complete(upload.id, part_ids=[third.id, second.id])
    assert done.file is not None
    assert (await client.files.content(done.file.id)).content == b"world!"

    parts_first = await client.uploads.create(
        bytes=4, filename="p.txt", mime_type="text/plain", purpose="assistants"
    )
    a = await client.uploads.parts.create(parts_first.id, data=b"ab")
    b = await client.uploads.parts.create(parts_first.id, data=b"cd")
    done = await client.uploads.complete(parts_first.id, part_ids=[b.id, a.id])
    assert done.file is not None
    assert (await client.files.content(done.file.id)).content == b"cdab"


async def test_upload_refusals_leave_it_pending(
    engine_app: FastAPI, tenant_client: openai.AsyncOpenAI
) -> None:
    client = tenant_client
    upload = await client.uploads.create(
        bytes=4, filename="m.txt", mime_type="text/plain", purpose="assistants"
    )
    part = await client.uploads.parts.create(upload.id, data=b"abcd")
    with pytest.raises(openai.BadRequestError) as bad_md5:
        await client.uploads.complete(upload.id, part_ids=[part.id], md5="0" * 32)
    assert bad_md5.value.body["param"] == "md5"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as too_much:
        await client.uploads.parts.create(upload.id, data=b"e")
    assert "created for 4" in too_much.value.message
    before = await counts(engine_app)
    cancelled = await client.uploads.cancel(upload.id)
    assert cancelled.status == "cancelled"
    after = await counts(engine_app)
    assert after["upload_parts"] == before["upload_parts"] - 1
    assert after["blob_chunks"] == before["blob_chunks"] - 1
    with pytest.raises(openai.BadRequestError) as closed:
        await client.uploads.parts.create(upload.id, data=b"x")
    assert "'cancelled'" in closed.value.message
    with pytest.raises(openai.BadRequestError):
        await client.uploads.complete(upload.id, part_ids=[part.id])

    short = await client.uploads.create(
        bytes=10, filename="s.txt", mime_type="text/plain", purpose="assistants"
    )
    piece = await client.uploads.parts.create(short.id, data=b"12345")
    with pytest.raises(openai.BadRequestError) as count:
        await client.uploads.complete(short.id, part_ids=[piece.id])
    assert "hold 5 bytes" in count.value.message


async def test_bad_input_is_refused_and_writes_nothing(
    engine_app: FastAPI, tenant_client: openai.AsyncOpenAI, http: httpx2.AsyncClient
) -> None:
    client = tenant_client
    before = await counts(engine_app)
    with pytest.raises(openai.BadRequestError) as purpose:
        await client.files.create(file=("x.txt", b"x"), purpose="nonsense")  # type: ignore[arg-type]
    assert purpose.value.body["param"] == "purpose"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as expiry:
        await client.files.create(
            file=("x.txt", b"x"),
            purpose="assistants",
            expires_after={"anchor": "created_at", "seconds": 60},
        )
    assert expiry.value.body["param"] == "expires_after.seconds"  # type: ignore[index]
    missing = await http.post("/v1/files", files={"purpose": (None, "assistants")})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "file"
    not_multipart = await http.post("/v1/files", json={"purpose": "assistants"})
    assert not_multipart.status_code == 400
    with pytest.raises(openai.BadRequestError) as upload_purpose:
        await client.uploads.create(
            bytes=1,
            filename="u.txt",
            mime_type="text/plain",
            purpose="user_data",  # type: ignore[arg-type]
        )
    assert upload_purpose.value.body["param"] == "purpose"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as size:
        await client.uploads.create(
            bytes=10**12, filename="u.txt", mime_type="text/plain", purpose="assistants"
        )
    assert size.value.body["param"] == "bytes"  # type: ignore[index]
    assert await counts(engine_app) == before


async def test_oversize_file_is_refused_and_nothing_stays(
    tmp_path: Path, database_url: str, spec_violations: object
) -> None:
    from tests.support.engine import engine_settings, openai_client, running_app

    settings = engine_settings(database_url, tmp_path, FILE_MAX_BYTES=3 * 1024 * 1024)
    async with running_app(settings) as app:
        client = openai_client(app, "sk-test-oversize", spec_violations)  # type: ignore[arg-type]
        before = await counts(app)
        with pytest.raises(openai.APIStatusError) as refused:
            await client.files.create(
                file=("big.bin", io.BytesIO(b"\0" * (3 * 1024 * 1024 + 1))), purpose="assistants"
            )
        assert refused.value.status_code == 413
        assert refused.value.body["code"] == "file_too_large"  # type: ignore[index]
        assert await counts(app) == before
        await client.close()


async def test_other_tenants_files_are_invisible(client_for: object, engine_app: FastAPI) -> None:
    make = client_for  # type: ignore[assignment]
    alice, bob = make("sk-test-files-alice"), make("sk-test-files-bob")  # type: ignore[operator]
    mine = await alice.files.create(file=("a.txt", b"alice's"), purpose="assistants")
    upload = await alice.uploads.create(
        bytes=1, filename="u.txt", mime_type="text/plain", purpose="assistants"
    )
    for call in (
        bob.files.retrieve(mine.id),
        bob.files.content(mine.id),
        bob.files.delete(mine.id),
        bob.uploads.parts.create(upload.id, data=b"x"),
        bob.uploads.cancel(upload.id),
        bob.uploads.complete(upload.id, part_ids=[]),
    ):
        with pytest.raises(openai.NotFoundError):
            await call
    assert mine.id not in page_ids(await bob.files.list())
    assert tenant_of(engine_app, "sk-test-files-alice") != tenant_of(
        engine_app, "sk-test-files-bob"
    )
    assert (await alice.files.content(mine.id)).content == b"alice's"


async def test_expiry_of_files_and_uploads(
    engine_app: FastAPI, tenant_client: openai.AsyncOpenAI
) -> None:
    """An expired file is gone for readers and swept; an upload past its hour takes no more
    parts, cannot complete, and the sweep drops its parts."""
    from sqlalchemy import update

    client = tenant_client
    state = engine_state(engine_app)
    file = await client.files.create(
        file=("e.txt", b"soon gone"),
        purpose="assistants",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    upload = await client.uploads.create(
        bytes=4, filename="u.txt", mime_type="text/plain", purpose="assistants"
    )
    part = await client.uploads.parts.create(upload.id, data=b"ab")
    async with state.db.write() as conn:
        await conn.execute(
            update(tables.files).where(tables.files.c.id == file.id).values(expires_at=1)
        )
        await conn.execute(
            update(tables.uploads).where(tables.uploads.c.id == upload.id).values(expires_at=1)
        )
        body = (
            await conn.execute(
                select(tables.uploads.c.body).where(tables.uploads.c.id == upload.id)
            )
        ).scalar_one()
        await conn.execute(
            update(tables.uploads)
            .where(tables.uploads.c.id == upload.id)
            .values(body={**body, "expires_at": 1})
        )
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve(file.id)
    assert file.id not in page_ids(await client.files.list())
    with pytest.raises(openai.BadRequestError) as late:
        await client.uploads.parts.create(upload.id, data=b"cd")
    assert "'expired'" in late.value.message
    with pytest.raises(openai.BadRequestError):
        await client.uploads.complete(upload.id, part_ids=[part.id])

    await files_service.sweep(state, force=True)
    async with state.db.read() as conn:
        left = await conn.execute(select(tables.files.c.id).where(tables.files.c.id == file.id))
        assert left.first() is None
        chunks = await conn.execute(
            select(func.count())
            .select_from(tables.blob_chunks)
            .where(tables.blob_chunks.c.owner_id.in_([file.id, part.id]))
        )
        assert chunks.scalar_one() == 0
        status = await conn.execute(
            select(tables.uploads.c.status).where(tables.uploads.c.id == upload.id)
        )
        assert status.scalar_one() == "expired"


async def test_two_engines_on_one_database_share_files(
    tmp_path: Path, database_url: str, spec_violations: object
) -> None:
    """Two engines with separate data directories on one database (as processes on two
    machines sharing one PostgreSQL): a file stored by one is served by the other, and one
    upload's parts may go to either."""
    from tests.support.engine import engine_settings, openai_client, running_app

    first = engine_settings(database_url, tmp_path / "machine-a")
    second = engine_settings(database_url, tmp_path / "machine-b")
    async with running_app(first) as app_a, running_app(second) as app_b:
        a = openai_client(app_a, "sk-test-two-engines", spec_violations)  # type: ignore[arg-type]
        b = openai_client(app_b, "sk-test-two-engines", spec_violations)  # type: ignore[arg-type]
        data = bytes(range(256)) * 5000
        stored = await a.files.create(file=("shared.bin", data), purpose="assistants")
        assert (await b.files.content(stored.id)).content == data
        assert stored.id in page_ids(await b.files.list())

        upload = await b.uploads.create(
            bytes=6, filename="u.txt", mime_type="text/plain", purpose="assistants"
        )
        one = await a.uploads.parts.create(upload.id, data=b"abc")
        two = await b.uploads.parts.create(upload.id, data=b"def")
        done = await a.uploads.complete(upload.id, part_ids=[one.id, two.id])
        assert done.file is not None
        assert (await b.files.content(done.file.id)).content == b"abcdef"
        assert (await b.files.delete(stored.id)).deleted
        with pytest.raises(openai.NotFoundError):
            await a.files.retrieve(stored.id)
        await a.close()
        await b.close()
