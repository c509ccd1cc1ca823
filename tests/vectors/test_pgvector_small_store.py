"""PostgreSQL with pgvector: a small store beside a big one in the same database gets its
exact nearest chunks. The HNSW index spans every store and its neighbours are filtered to the
searched store afterwards, which lost most of a small store's true top results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from openai_assistant_mcp.engine.app import start_engine, stop_engine
from openai_assistant_mcp.engine.services import vector_stores
from openai_assistant_mcp.engine.store import vector_chunks, vector_repository
from openai_assistant_mcp.engine.vectors.embedders import Embedder, choose_mode
from tests.support.engine import engine_settings as make_engine_settings
from tests.support.postgres import skip_where_pgvector_cannot_run

TENANT = "small-store"


async def fill(state, name: str, chunks: int, rng: np.random.Generator) -> tuple[str, dict]:
    """A store of `chunks` chunks with random unit vectors: (id, {chunk text: vector})."""
    store = await vector_stores.create(state, TENANT, {"name": name})
    vectors = {}
    for start in range(0, chunks, 500):
        count = min(500, chunks - start)
        batch = rng.standard_normal((count, 384)).astype(np.float32)
        batch /= np.linalg.norm(batch, axis=1, keepdims=True)
        texts = [f"{name} chunk {start + i}" for i in range(count)]
        async with state.db.write() as conn:
            await vector_chunks.replace_file_chunks(
                conn, store["id"], f"file-{name}{start}", [(t, 4) for t in texts], batch,
                pgvector=True,
            )  # fmt: skip
        vectors.update(zip(texts, batch, strict=True))
    async with state.db.write() as conn:
        await vector_repository.bump_generation(conn, store["id"])
    return store["id"], vectors


async def test_a_small_store_beside_a_big_one_gets_its_exact_nearest_chunks(
    new_database_url: Callable[[str], Awaitable[str]],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = await new_database_url("postgres")
    skip_where_pgvector_cannot_run(request.getfixturevalue("postgres_server"))
    settings = make_engine_settings(url, tmp_path)
    state = await start_engine(settings)
    try:
        assert state.ingestion.pgvector, "the test PostgreSQL has pgvector"
        rng = np.random.default_rng(12)
        await fill(state, "big", 30_000, rng)
        small_id, small = await fill(state, "small", 2_000, rng)
        async with state.db.write() as conn:  # the index built once, as after a bulk fill
            await conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            await vector_chunks.ensure_hnsw_index(conn, 384)
            await conn.execute(text("ANALYZE vector_store_chunks"))
        embedder = Embedder(choose_mode(settings), settings)
        texts = list(small)
        matrix = np.stack([small[t] for t in texts])
        for query in ("cats and dogs", "interest rates", "bread dough", "orbital mechanics"):
            found = await vector_stores.search(
                state, TENANT, [small_id], query, max_num_results=20,
                ranking_options={"ranker": "none"},
            )  # fmt: skip
            query_vector = await embedder.query(query, None)
            expected = [texts[i] for i in np.argsort(-(matrix @ query_vector))[:20]]
            assert [r["content"][0]["text"] for r in found] == expected
    finally:
        await stop_engine(state)
