"""Ingestion is durable and shared: two engine processes on one database split a batch with
each file ingested once; kill -9 mid-ingestion, restart, and the store completes with no
duplicate chunks. On SQLite and PostgreSQL, engines in their own OS processes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from openai_assistant_mcp.engine.store import vector_tables as vt
from tests.runner.conftest import sdk_client
from tests.runner.engine_process import EngineProcess, engines  # noqa: F401  (fixture)
from tests.support.engine import SpecViolations
from tests.support.migrated import MigratedDatabaseURL
from tests.support.scripted_provider import ScriptedProvider

FAST = {"INGEST_POLL_INTERVAL": "0.1", "INGEST_CONCURRENCY": "1"}


@pytest.fixture
def embeddings() -> Iterator[ScriptedProvider]:
    """Provider embeddings that take a while (the scripted provider): ingestion is slow
    enough to interrupt, and costs no CPU (the local model would, on 2 shared cores)."""
    with ScriptedProvider() as provider:
        provider.embedding_delay = 1.0
        yield provider


def engine(database: str, tmp_path: Path, provider: ScriptedProvider, **env: str) -> EngineProcess:
    """An engine process embedding through `provider`, with a server key of its own (so a
    file taken over after a crash can still be embedded)."""
    return EngineProcess(
        database,
        tmp_path,
        provider.base_url,
        EMBEDDINGS_BASE_URL=provider.base_url,
        EMBEDDING_MODEL="emb-test",
        EMBEDDINGS_API_KEY="sk-server-embeddings",
        **FAST,
        **env,
    )


def document(index: int, words: int) -> bytes:
    """A distinct text of about `words` words."""
    body = " ".join(
        f"topic{index} sentence{n} about subject {index * 7 + n % 13}" for n in range(words // 5)
    )
    return f"Document {index}.\n{body}\n".encode()


async def wait_completed(client: openai.AsyncOpenAI, store_id: str, within: float = 300) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        store = await client.vector_stores.retrieve(store_id)
        if store.status != "in_progress":
            return store
        assert asyncio.get_running_loop().time() < deadline, store.file_counts
        await asyncio.sleep(0.2)


async def ingestion_rows(database_url: str, store_id: str) -> tuple[list[tuple], list[tuple]]:
    """(file rows: id, status, attempts, lease_owner), (chunk keys: file_id, position)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            files = list(
                await conn.execute(
                    select(
                        vt.vector_store_files.c.id,
                        vt.vector_store_files.c.status,
                        vt.vector_store_files.c.attempts,
                        vt.vector_store_files.c.lease_owner,
                    ).where(vt.vector_store_files.c.vector_store_id == store_id)
                )
            )
            chunks = list(
                await conn.execute(
                    select(
                        vt.vector_store_chunks.c.file_id, vt.vector_store_chunks.c.position
                    ).where(vt.vector_store_chunks.c.vector_store_id == store_id)
                )
            )
    finally:
        await engine.dispose()
    return [tuple(r) for r in files], [tuple(r) for r in chunks]


def assert_no_duplicate_chunks(chunks: list[tuple]) -> None:
    assert len(chunks) == len(set(chunks)), "a chunk was written twice"
    by_file: dict[str, list[int]] = {}
    for file_id, position in chunks:
        by_file.setdefault(file_id, []).append(position)
    for positions in by_file.values():
        assert sorted(positions) == list(range(len(positions)))


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
async def test_two_processes_split_a_batch(
    backend_name: str,
    migrated_database_url: MigratedDatabaseURL,
    tmp_path: Path,
    spec_violations: SpecViolations,
    engines: list[EngineProcess],  # noqa: F811
    embeddings: ScriptedProvider,
) -> None:
    database = await migrated_database_url(backend_name)
    # Started side by side (start-up is most of the cost): the database is already at head.
    first = engine(database, tmp_path, embeddings).spawn()
    second = engine(database, tmp_path, embeddings).spawn()
    engines += [first, second]
    first.wait_ready()
    second.wait_ready()
    a = sdk_client(first.url, "sk-ingest", spec_violations)
    b = sdk_client(second.url, "sk-ingest", spec_violations)
    file_ids = [
        (await a.files.create(file=(f"doc{i}.txt", document(i, 600)), purpose="assistants")).id
        for i in range(8)
    ]
    store = await a.vector_stores.create(name="shared")
    batch = await a.vector_stores.file_batches.create(store.id, file_ids=file_ids)
    store = await wait_completed(b, store.id)
    assert store.file_counts.completed == 8, store.file_counts
    assert (
        await b.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
    ).status == "completed"

    files, chunks = await ingestion_rows(database, store.id)
    assert all(attempts == 1 for _, _, attempts, _ in files), files  # each claimed once
    owners = {owner for *_, owner in files}
    assert len(owners) == 2, f"one process did all the work: {owners}"
    assert_no_duplicate_chunks(chunks)
    found = await b.vector_stores.search(store.id, query="topic3 sentence4")
    assert found.data[0].filename == "doc3.txt"
    assert not spec_violations.take()


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
async def test_kill_9_mid_ingestion_then_restart(
    backend_name: str,
    migrated_database_url: MigratedDatabaseURL,
    tmp_path: Path,
    spec_violations: SpecViolations,
    engines: list[EngineProcess],  # noqa: F811
    embeddings: ScriptedProvider,
) -> None:
    database = await migrated_database_url(backend_name)
    embeddings.embedding_delay = 4.0
    first = engine(database, tmp_path, embeddings, INGEST_LEASE_SECONDS="2").start()
    engines.append(first)
    client = sdk_client(first.url, "sk-crash", spec_violations)
    file_ids = [
        (await client.files.create(file=(f"doc{i}.txt", document(i, 600)), purpose="assistants")).id
        for i in range(4)
    ]
    store = await client.vector_stores.create(file_ids=file_ids)
    # Kill while a file is claimed and not yet written.
    for _ in range(600):
        files, _ = await ingestion_rows(database, store.id)
        if any(status == "in_progress" and owner for _, status, _, owner in files):
            break
        await asyncio.sleep(0.05)
    first.kill()
    embeddings.embedding_delay = 0.2
    before_restart = len(embeddings.embedding_requests)
    files, _ = await ingestion_rows(database, store.id)
    interrupted = {fid for fid, status, _, owner in files if status == "in_progress" and owner}
    assert interrupted

    second = engine(database, tmp_path, embeddings, INGEST_LEASE_SECONDS="2").start()
    engines.append(second)
    client = sdk_client(second.url, "sk-crash", spec_violations)
    store = await wait_completed(client, store.id)
    assert store.file_counts.completed == 4, store.file_counts
    files, chunks = await ingestion_rows(database, store.id)
    assert all(attempts == 2 for fid, _, attempts, _ in files if fid in interrupted)
    assert_no_duplicate_chunks(chunks)
    assert len(chunks) > 4
    # The caller's key died with the first process: the take-over used the server's key.
    resumed = embeddings.embedding_requests[before_restart:]
    assert resumed and all(r.api_key == "sk-server-embeddings" for r in resumed)
    assert not spec_violations.take()
