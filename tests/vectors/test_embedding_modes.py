"""The three embedding modes, each recorded on the store: the provider's /v1/embeddings (the
scripted provider, with the caller's key), the bundled local model, and keyword-only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import select

from openai_assistant_mcp.engine.store import vector_tables as vt
from tests.support.engine import (
    SpecViolations,
    engine_settings,
    engine_state,
    openai_client,
    running_app,
)
from tests.support.scripted_provider import ScriptedProvider

CATS = b"Cats are small domesticated carnivores; a kitten chases mice.\n"
BREAD = b"Knead the dough for ten minutes, then bake the bread.\n"


async def store_with_two_files(client: openai.AsyncOpenAI) -> Any:
    ids = [
        (await client.files.create(file=(name, data), purpose="assistants")).id
        for name, data in (("cats.txt", CATS), ("bread.txt", BREAD))
    ]
    store = await client.vector_stores.create(file_ids=ids)
    for _ in range(600):
        store = await client.vector_stores.retrieve(store.id)
        if store.status != "in_progress":
            break
        await asyncio.sleep(0.1)
    assert store.file_counts.completed == 2, store.file_counts
    return store


async def recorded(app: Any, store_id: str) -> tuple[dict, list[int | None]]:
    """The store's embedding record and its chunks' dimensions."""
    async with engine_state(app).db.read() as conn:
        record = (
            await conn.execute(
                select(vt.vector_stores.c.embedding).where(vt.vector_stores.c.id == store_id)
            )
        ).scalar_one()
        dims = list(
            (
                await conn.execute(
                    select(vt.vector_store_chunks.c.dims).where(
                        vt.vector_store_chunks.c.vector_store_id == store_id
                    )
                )
            ).scalars()
        )
    return record, dims


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
async def test_provider_embeddings_with_the_callers_key(
    backend_name: str,
    new_database_url: Callable[[str], Awaitable[str]],
    tmp_path: Path,
    spec_violations: SpecViolations,
) -> None:
    key = "sk-embedding-caller"
    with ScriptedProvider(required_key=key) as provider:
        settings = engine_settings(
            await new_database_url(backend_name),
            tmp_path,
            EMBEDDINGS_BASE_URL=provider.base_url,
            EMBEDDING_MODEL="emb-test",
            EMBEDDING_DIMENSIONS=32,
        )
        async with running_app(settings) as app:
            client = openai_client(app, key, spec_violations)
            store = await store_with_two_files(client)
            record, dims = await recorded(app, store.id)
            assert record == {"mode": "provider", "model": "emb-test", "dimensions": 32}
            assert dims and set(dims) == {32}
            sent = provider.embedding_requests
            assert sent and all(r.api_key == key for r in sent)
            assert all(r.body["model"] == "emb-test" and r.body["dimensions"] == 32 for r in sent)
            assert not any(t.startswith("passage:") for r in sent for t in r.body["input"])
            # "felines" is in no text: only the provider's vectors relate it to cats.
            found = await client.vector_stores.search(store.id, query="felines")
            assert found.data and found.data[0].filename == "cats.txt"
            assert provider.embedding_requests[-1].body["input"] == ["felines"]
            await client.close()
    assert not spec_violations.take()


async def test_local_model_is_the_default(
    new_database_url: Callable[[str], Awaitable[str]],
    tmp_path: Path,
    spec_violations: SpecViolations,
) -> None:
    settings = engine_settings(await new_database_url("sqlite"), tmp_path)
    async with running_app(settings) as app:
        client = openai_client(app, "sk-local", spec_violations)
        store = await store_with_two_files(client)
        record, dims = await recorded(app, store.id)
        assert record["mode"] == "local" and record["dimensions"] == 384
        assert set(dims) == {384}
        found = await client.vector_stores.search(store.id, query="felines")
        assert found.data[0].filename == "cats.txt"
        await client.close()


async def test_keyword_only_without_any_embeddings(
    new_database_url: Callable[[str], Awaitable[str]],
    tmp_path: Path,
    spec_violations: SpecViolations,
) -> None:
    settings = engine_settings(await new_database_url("sqlite"), tmp_path, LOCAL_EMBEDDINGS=False)
    async with running_app(settings) as app:
        client = openai_client(app, "sk-keyword", spec_violations)
        store = await store_with_two_files(client)
        record, dims = await recorded(app, store.id)
        assert record == {"mode": "none", "model": None, "dimensions": None}
        assert set(dims) == {None}
        found = await client.vector_stores.search(store.id, query="knead dough")
        assert [r.filename for r in found.data] == ["bread.txt"]
        assert found.data[0].score == 1.0  # first in the only ranking there is
        assert (await client.vector_stores.search(store.id, query="felines")).data == []
        await client.close()
