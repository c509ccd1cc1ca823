"""File names that are not valid UTF-8 never break the Files API: a stored row holding one (as
code_interpreter stored before names were sanitised) is listed and retrieved with the name's
valid form, and new names are sanitised on the way in."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from openai_assistant_mcp.engine.store import tables
from tests.support.engine import engine_state


async def test_a_row_with_a_name_that_is_not_utf8_is_listed_and_retrieved(
    engine_app: FastAPI, tenant_client: openai.AsyncOpenAI, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL's jsonb refuses lone surrogates: no such row can be stored")
    made = await tenant_client.files.create(file=("good.txt", b"kept"), purpose="assistants")
    state = engine_state(engine_app)
    async with state.db.write() as conn:  # what a sandbox name with bytes \xff\xfe became
        files = tables.files
        body: dict[str, Any] = (
            await conn.execute(select(files.c.body).where(files.c.id == made.id))
        ).scalar_one()
        bad = {**body, "filename": "bad\udcff\udcfe.txt"}
        await conn.execute(update(files).where(files.c.id == made.id).values(body=bad))
    listed = await tenant_client.files.list()
    [row] = [f for f in listed.data if f.id == made.id]
    assert row.filename == "bad\ufffd\ufffd.txt"
    assert (await tenant_client.files.retrieve(made.id)).filename == row.filename
    assert (await tenant_client.files.content(made.id)).content == b"kept"
