"""The per-tenant storage quota (FILE_STORAGE_QUOTA_BYTES, issue 21 item 3) on SQLite and
PostgreSQL: files, Uploads API parts and code_interpreter outputs count together; a write
past it is refused with OpenAI's envelope naming the limit and leaves no rows; concurrent
uploads cannot pass it together; other tenants are not affected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from openai_assistant_mcp.engine.errors import APIError
from openai_assistant_mcp.engine.services import files as files_service
from openai_assistant_mcp.engine.store import tables
from tests.support.engine import engine_settings, engine_state, openai_client, running_app
from tests.support.migrated import MigratedDatabaseURL

from .helpers import tenant_of

MIB = 1024 * 1024
QUOTA = 4 * MIB


@pytest.fixture(params=["sqlite", "postgres"])
async def quota_app(
    request: pytest.FixtureRequest,
    migrated_database_url: MigratedDatabaseURL,
    tmp_path: Path,
) -> AsyncIterator[FastAPI]:
    url = await migrated_database_url(request.param)
    settings = engine_settings(url, tmp_path, FILE_STORAGE_QUOTA_BYTES=QUOTA)
    async with running_app(settings) as app:
        yield app


async def stored_bytes(app: FastAPI) -> tuple[int, int]:
    """(bytes in files and parts rows, bytes of pieces): what the tenants hold."""
    async with engine_state(app).db.read() as conn:
        rows = sum(
            [
                (await conn.execute(select(func.coalesce(func.sum(t.c.bytes), 0)))).scalar_one()
                for t in (tables.files, tables.upload_parts)
            ]
        )
        pieces = select(func.coalesce(func.sum(func.length(tables.blob_chunks.c.data)), 0))
        return int(rows), int((await conn.execute(pieces)).scalar_one())


def assert_quota_refusal(error: openai.BadRequestError) -> None:
    body = error.body
    assert isinstance(body, dict) and body["code"] == "storage_quota_exceeded", body
    assert body["type"] == "invalid_request_error"
    assert f"the quota is {QUOTA} bytes (FILE_STORAGE_QUOTA_BYTES)" in error.message


async def test_uploads_past_the_quota_are_refused_and_leave_nothing(quota_app: FastAPI) -> None:
    client = openai_client(quota_app, "sk-quota-files")
    first = await client.files.create(file=("a.bin", b"a" * (3 * MIB)), purpose="assistants")
    with pytest.raises(openai.BadRequestError) as refused:
        await client.files.create(file=("b.bin", b"b" * (2 * MIB)), purpose="assistants")
    assert_quota_refusal(refused.value)
    assert [f.id for f in (await client.files.list()).data] == [first.id]
    assert await stored_bytes(quota_app) == (3 * MIB, 3 * MIB)  # no half-written file

    # Another tenant has its own quota.
    other = openai_client(quota_app, "sk-quota-other")
    await other.files.create(file=("c.bin", b"c" * (3 * MIB)), purpose="assistants")

    # Deleting makes room again.
    await client.files.delete(first.id)
    await client.files.create(file=("b.bin", b"b" * (2 * MIB)), purpose="assistants")


async def test_upload_parts_count_against_the_quota(quota_app: FastAPI) -> None:
    client = openai_client(quota_app, "sk-quota-uploads")
    with pytest.raises(openai.BadRequestError) as refused:  # refused when it is created
        await client.uploads.create(
            bytes=QUOTA + 1,
            filename="big.bin",
            mime_type="application/octet-stream",
            purpose="assistants",
        )
    assert_quota_refusal(refused.value)

    await client.files.create(file=("a.bin", b"a" * (2 * MIB)), purpose="assistants")
    upload = await client.uploads.create(
        bytes=2 * MIB,
        filename="two.bin",
        mime_type="application/octet-stream",
        purpose="assistants",
    )
    part = await client.uploads.parts.create(upload.id, data=b"p" * MIB)
    # Parts count as they are written: a file now fits only in what is left.
    with pytest.raises(openai.BadRequestError) as refused:
        await client.files.create(file=("b.bin", b"b" * (MIB + 1)), purpose="assistants")
    assert_quota_refusal(refused.value)
    second = await client.uploads.parts.create(upload.id, data=b"q" * MIB)
    done = await client.uploads.complete(upload.id, part_ids=[part.id, second.id])
    assert done.status == "completed" and done.file is not None
    assert await stored_bytes(quota_app) == (4 * MIB, 4 * MIB)  # parts became the file's


async def test_concurrent_uploads_cannot_pass_the_quota_together(quota_app: FastAPI) -> None:
    """Ten uploads of 1 MiB + 1 byte at once against 4 MiB: each piece is checked under the
    tenant's lock, so three fit, the others are refused, and the total never passes the quota."""
    client = openai_client(quota_app, "sk-quota-race")
    size = MIB + 1

    async def one(index: int) -> bool:
        try:
            await client.files.create(file=(f"{index}.bin", b"r" * size), purpose="assistants")
        except openai.BadRequestError as error:
            assert_quota_refusal(error)
            return False
        return True

    stored = sum(await asyncio.gather(*(one(i) for i in range(10))))
    assert stored == QUOTA // size  # sizes are known: each is counted whole, first come
    rows, pieces = await stored_bytes(quota_app)
    assert rows == pieces == stored * size <= QUOTA


async def test_code_interpreter_outputs_count_against_the_quota(quota_app: FastAPI) -> None:
    """code_interpreter stores its outputs through files.create_file with the output purpose
    (sandbox/code_interpreter.py `_save`): the same quota applies."""
    client = openai_client(quota_app, "sk-quota-outputs")
    await client.files.create(file=("a.bin", b"a" * (3 * MIB)), purpose="assistants")
    state = engine_state(quota_app)

    async def output() -> AsyncIterator[bytes]:
        yield b"o" * (2 * MIB)

    with pytest.raises(APIError) as refused:
        await files_service.create_file(
            state,
            tenant_of(quota_app, "sk-quota-outputs"),
            "plot.png",
            "assistants_output",
            output(),
            purposes=files_service.OUTPUT_PURPOSES,
        )
    assert refused.value.code == "storage_quota_exceeded"
    assert await stored_bytes(quota_app) == (3 * MIB, 3 * MIB)


async def test_tenants_move_respects_the_new_keys_quota(quota_app: FastAPI, tmp_path: Path) -> None:
    """`tenants move` onto a key whose files and the moved ones together pass the quota moves
    nothing and says why (the quota and the setting); with room, it moves."""
    from openai_assistant_mcp.engine.admin import move_tenant

    old, new = openai_client(quota_app, "sk-move-old"), openai_client(quota_app, "sk-move-new")
    moving = await old.files.create(file=("a.bin", b"a" * (3 * MIB)), purpose="assistants")
    kept = await new.files.create(file=("b.bin", b"b" * (2 * MIB)), purpose="assistants")
    settings = engine_state(quota_app).settings
    with pytest.raises(ValueError) as refused:
        await move_tenant(settings, "sk-move-old", "sk-move-new")
    message = str(refused.value)
    assert f"would take {5 * MIB} bytes" in message
    assert f"storage quota of {QUOTA} bytes (FILE_STORAGE_QUOTA_BYTES)" in message
    assert [f.id for f in (await old.files.list()).data] == [moving.id]  # nothing moved
    assert [f.id for f in (await new.files.list()).data] == [kept.id]

    roomy = settings.model_copy(update={"file_storage_quota_bytes": 8 * MIB})
    await move_tenant(roomy, "sk-move-old", "sk-move-new")
    assert {f.id for f in (await new.files.list()).data} == {moving.id, kept.id}
    assert (await old.files.list()).data == []
