"""The three embedding modes, each recorded on the store: the provider's /v1/embeddings (the
scripted provider, with the caller's key), the bundled local model, and keyword-only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
from sqlalchemy import select

from openai_assistant_mcp.engine.store import vector_tables as vt
from openai_assistant_mcp.engine.vectors import local_models
from tests.support.engine import (
    SpecViolations,
    engine_settings,
    engine_state,
    openai_client,
    running_app,
)
from tests.support.migrated import MigratedDatabaseURL
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
    migrated_database_url: MigratedDatabaseURL,
    tmp_path: Path,
    spec_violations: SpecViolations,
) -> None:
    key = "sk-embedding-caller"
    with ScriptedProvider(required_key=key) as provider:
        settings = engine_settings(
            await migrated_database_url(backend_name),
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
    migrated_database_url: MigratedDatabaseURL,
    tmp_path: Path,
    spec_violations: SpecViolations,
) -> None:
    settings = engine_settings(await migrated_database_url("sqlite"), tmp_path)
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
    migrated_database_url: MigratedDatabaseURL,
    tmp_path: Path,
    spec_violations: SpecViolations,
) -> None:
    settings = engine_settings(
        await migrated_database_url("sqlite"), tmp_path, LOCAL_EMBEDDINGS=False
    )
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


async def test_a_store_keeps_its_model_when_the_default_changes(
    migrated_database_url: MigratedDatabaseURL,
    tmp_path: Path,
    spec_violations: SpecViolations,
) -> None:
    """A store made with e5 (the default before MiniLM) keeps e5 for its new files and its
    queries once the default is MiniLM; a new store gets MiniLM. Vectors are never mixed."""
    url = await migrated_database_url("sqlite")
    before = engine_settings(url, tmp_path, LOCAL_EMBEDDING_MODEL=local_models.E5)
    async with running_app(before) as app:
        client = openai_client(app, "sk-models", spec_violations)
        old = await store_with_two_files(client)
        assert (await recorded(app, old.id))[0]["model"] == local_models.E5
        await client.close()
    async with running_app(engine_settings(url, tmp_path)) as app:
        client = openai_client(app, "sk-models", spec_violations)
        new = await store_with_two_files(client)
        assert (await recorded(app, new.id))[0]["model"] == local_models.MINILM
        mice = await client.files.create(file=("mice.txt", MICE), purpose="assistants")
        added = await client.vector_stores.files.create_and_poll(
            vector_store_id=old.id, file_id=mice.id, poll_interval_ms=100
        )
        assert added.status == "completed", added.last_error
        for store_id, name in ((old.id, local_models.E5), (new.id, local_models.MINILM)):
            texts, stored = await chunk_vectors(app, store_id)
            expected = local_models.load(name).embed(texts, False)
            assert np.allclose(stored, expected, atol=1e-4), name
            found = await client.vector_stores.search(
                store_id, query="felines", ranking_options={"ranker": "none"}
            )
            assert found.data[0].filename == "cats.txt"
        assert local_models.MINILM in local_models.loaded()
        await client.close()


MICE = b"Field mice store seeds for the winter in burrows under the hedge.\n"


async def chunk_vectors(app: Any, store_id: str) -> tuple[list[str], np.ndarray]:
    chunks = vt.vector_store_chunks
    query = select(chunks.c.text, chunks.c.embedding).where(chunks.c.vector_store_id == store_id)
    async with engine_state(app).db.read() as conn:
        rows = (await conn.execute(query.order_by(chunks.c.id))).all()
    return [r.text for r in rows], np.vstack([np.frombuffer(r.embedding, "<f4") for r in rows])
