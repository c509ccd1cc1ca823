"""Local passages are embedded in batches taken across the files in flight, and each chunk
gets back its own vector: the batcher in vectors/embedders.py, observed at the model."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from openai_assistant_mcp.engine.store import vector_tables as vt
from openai_assistant_mcp.engine.vectors import embedders, local_models
from tests.support.engine import (
    SpecViolations,
    engine_settings,
    engine_state,
    openai_client,
    running_app,
)
from tests.support.migrated import MigratedDatabaseURL

TOPICS = [
    "Cats purr and chase mice at night.",
    "The central bank raised interest rates again.",
    "Knead the dough, let it rise, then bake the bread.",
    "Glaciers carve valleys as they slowly move downhill.",
    "A violin has four strings tuned in fifths.",
    "Photosynthesis turns light, water and carbon dioxide into sugar.",
    "The goalkeeper saved a penalty in extra time.",
    "Compilers translate source code into machine instructions.",
]


async def test_chunks_of_several_files_share_a_model_call(
    migrated_database_url: MigratedDatabaseURL,
    tmp_path: Path,
    spec_violations: SpecViolations,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = local_models.load(local_models.MINILM)
    calls: list[list[str]] = []
    embed = model.embed

    def passages_waiting() -> int:
        batchers = [b for per_loop in embedders._batchers.values() for b in per_loop.values()]
        return sum(b._queue.qsize() for b in batchers)

    def observed(texts: list[str], is_query: bool) -> np.ndarray:
        if not is_query:
            if not calls:
                # The first call (one passage thread) holds the model until other files'
                # passages wait behind it, however fast or slow their extraction is here.
                deadline = time.monotonic() + 300
                while passages_waiting() < 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
            calls.append(list(texts))
        return embed(texts, is_query)

    monkeypatch.setattr(model, "embed", observed)
    settings = engine_settings(
        await migrated_database_url("sqlite"),
        tmp_path,
        INGEST_CONCURRENCY=8,
        LOCAL_EMBEDDING_THREADS=1,
    )
    async with running_app(settings) as app:
        client = openai_client(app, "sk-batching", spec_violations)
        ids = [
            (await client.files.create(file=(f"t{i}.txt", t.encode()), purpose="assistants")).id
            for i, t in enumerate(TOPICS)
        ]
        store = await client.vector_stores.create()
        batch = await client.vector_stores.file_batches.create_and_poll(
            store.id, file_ids=ids, poll_interval_ms=100
        )
        assert batch.file_counts.completed == len(TOPICS), batch.file_counts
        chunks = vt.vector_store_chunks
        query = select(chunks.c.text, chunks.c.embedding).where(
            chunks.c.vector_store_id == store.id
        )
        async with engine_state(app).db.read() as conn:
            rows = (await conn.execute(query)).all()
        await client.close()
    # Each file is one chunk: a call with several passages took them from several files.
    assert max(len(call) for call in calls) > 1, calls
    assert sorted(text for call in calls for text in call) == sorted(r.text for r in rows)
    # Split back right: each chunk's stored vector is its own text's embedding.
    stored = np.vstack([np.frombuffer(r.embedding, "<f4") for r in rows])
    assert np.allclose(stored, embed([r.text for r in rows], False), atol=1e-4)
