"""Vector stores through the official SDK on SQLite and PostgreSQL (local embeddings, the
default): create_and_poll, upload_and_poll, file batches, search with filters, content,
attributes, deletes that detach; bad input refused with OpenAI's envelope and no rows."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import openai
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from openai_assistant_mcp.engine.services.vector_store_files import build_file_row, strategy_of
from openai_assistant_mcp.engine.store import vector_repository as repo
from tests.engine.helpers import tenant_of
from tests.support.engine import engine_state
from tests.support.tokens import tiktoken_cl100k

CATS = b"Cats are small domesticated carnivores. A kitten purrs and chases mice at night.\n"
MARKETS = b"The central bank raised interest rates; bond yields and stock indexes fell.\n"
RECIPE = b"Knead the dough for ten minutes, let it rise, then bake the bread at 220 degrees.\n"


# The SDK's pollers look every second unless told (the engine sends openai-poll-after-ms only
# for runs); ingestion here takes a fraction of that.
POLL_MS = 20


async def upload(client: openai.AsyncOpenAI, name: str, data: bytes) -> str:
    return (await client.files.create(file=(name, data), purpose="assistants")).id


async def create_and_poll(client: openai.AsyncOpenAI, **kwargs) -> Any:
    """vector_stores.create, then retrieve until no file is in progress (the SDK has pollers
    for files and batches, not for stores)."""
    return await wait_indexed(client, (await client.vector_stores.create(**kwargs)).id)


async def wait_indexed(client: openai.AsyncOpenAI, store_id: str) -> Any:
    store = await client.vector_stores.retrieve(store_id)
    for _ in range(6000):  # up to two minutes
        if store.status != "in_progress":
            return store
        await asyncio.sleep(0.02)
        store = await client.vector_stores.retrieve(store.id)
    raise AssertionError(f"store {store.id} still in progress")


async def rows(app: FastAPI) -> dict[str, int]:
    found = {}
    async with engine_state(app).db.read() as conn:
        for table in (repo.STORES, repo.FILES, repo.BATCHES, repo.CHUNKS):
            query = select(func.count()).select_from(table)
            found[table.name] = (await conn.execute(query)).scalar_one()
    return found


async def test_create_and_poll_then_search(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    ids = [
        await upload(client, "cats.txt", CATS),
        await upload(client, "markets.md", MARKETS),
        await upload(client, "bread.html", b"<html><body><p>" + RECIPE + b"</p></body></html>"),
    ]
    store = await create_and_poll(client, name="kb", file_ids=ids)
    assert store.status == "completed" and store.name == "kb"
    assert store.file_counts.completed == 3 and store.file_counts.total == 3
    assert store.usage_bytes > 0

    # Semantic: no word of the query is in the cats text; the local model finds it.
    found = await client.vector_stores.search(store.id, query="felines hunting rodents")
    results = found.data
    assert results and results[0].filename == "cats.txt"
    assert all(0.0 <= r.score <= 1.0 for r in results)
    assert results[0].content[0].type == "text" and "kitten" in results[0].content[0].text

    # Keyword: an exact word.
    found = await client.vector_stores.search(store.id, query="dough", max_num_results=1)
    assert [r.filename for r in found.data] == ["bread.html"]
    assert "<p>" not in found.data[0].content[0].text  # HTML was extracted, not indexed raw

    listed = await client.vector_stores.files.list(store.id, filter="completed")
    assert sorted(f.id for f in listed.data) == sorted(ids)
    one = await client.vector_stores.files.retrieve(file_id=ids[0], vector_store_id=store.id)
    assert one.chunking_strategy.type == "static"
    assert one.chunking_strategy.static.max_chunk_size_tokens == 800
    assert one.chunking_strategy.static.chunk_overlap_tokens == 400
    content = await client.vector_stores.files.content(file_id=ids[0], vector_store_id=store.id)
    assert "".join(part.text for part in content.data) == CATS.decode()


async def test_upload_and_poll_attributes_and_filters(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    store = await client.vector_stores.create(name="filtered")
    a = await client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("a.txt", CATS), poll_interval_ms=POLL_MS
    )
    assert a.status == "completed" and a.last_error is None
    a = await client.vector_stores.files.update(
        file_id=a.id, vector_store_id=store.id, attributes={"team": "zoo", "year": 2024}
    )
    assert a.attributes == {"team": "zoo", "year": 2024}
    raw = await client.vector_stores.files.with_raw_response.retrieve(
        file_id=a.id, vector_store_id=store.id
    )
    assert '"year":2024' in raw.text.replace(" ", "")  # an integer stays an integer
    batch = await client.vector_stores.file_batches.upload_and_poll(
        store.id,
        files=[("b.txt", CATS.replace(b"Cats", b"Tigers")), ("c.txt", MARKETS)],
        poll_interval_ms=POLL_MS,
    )
    assert batch.status == "completed" and batch.file_counts.completed == 2
    batch_files = await client.vector_stores.file_batches.list_files(
        batch_id=batch.id, vector_store_id=store.id
    )
    assert len(batch_files.data) == 2

    query = "cats purr"
    everything = await client.vector_stores.search(store.id, query=query)
    assert {r.file_id for r in everything.data} >= {a.id}
    only_zoo = await client.vector_stores.search(
        store.id, query=query, filters={"type": "eq", "key": "team", "value": "zoo"}
    )
    assert {r.file_id for r in only_zoo.data} == {a.id}
    assert only_zoo.data[0].attributes == {"team": "zoo", "year": 2024}
    compound = await client.vector_stores.search(
        store.id,
        query=query,
        filters={
            "type": "or",
            "filters": [
                {"type": "gte", "key": "year", "value": 2025},
                {"type": "in", "key": "team", "value": ["nobody"]},
            ],
        },
    )
    assert compound.data == []
    thresholded = await client.vector_stores.search(
        store.id, query=[query, "tigers"], ranking_options={"score_threshold": 1.0}
    )
    assert all(r.score >= 1.0 for r in thresholded.data)

    deleted = await client.vector_stores.files.delete(file_id=a.id, vector_store_id=store.id)
    assert deleted.deleted
    after = await client.vector_stores.search(store.id, query=query)
    assert a.id not in {r.file_id for r in after.data}
    # Deleting the file itself removes it from every store.
    c_id = next(f.id for f in batch_files.data)
    await client.files.delete(c_id)
    remaining = await client.vector_stores.files.list(store.id)
    assert c_id not in {f.id for f in remaining.data}
    assert (await client.vector_stores.retrieve(store.id)).file_counts.total == 1


async def test_static_chunking_and_unsupported_files(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    long_text = (" ".join(f"word{i}" for i in range(500))).encode()
    good = await upload(client, "long.txt", long_text)
    binary = await upload(client, "blob.bin", bytes(range(256)) * 10)
    store = await create_and_poll(
        client,
        file_ids=[good, binary],
        chunking_strategy={
            "type": "static",
            "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 100},
        },
    )
    assert store.file_counts.completed == 1 and store.file_counts.failed == 1
    failed = await client.vector_stores.files.list(store.id, filter="failed")
    assert failed.data[0].id == binary
    assert failed.data[0].last_error.code == "unsupported_file"
    content = await client.vector_stores.files.content(file_id=good, vector_store_id=store.id)
    chunks = [part.text for part in content.data]
    encoding = tiktoken_cl100k()  # tiktoken's own cl100k_base
    total = len(encoding.encode(long_text.decode()))
    assert len(chunks) == math.ceil((total - 200) / 100) + 1  # 200-token windows every 100
    assert all(len(encoding.encode(chunk)) <= 201 for chunk in chunks)
    assert chunks[0].split()[-1] in chunks[1]  # overlap: the next window repeats the tail


@pytest.mark.parametrize(
    "strategy, param",
    [
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {
                "type": "static",
                "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0},
            },
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {
                "type": "static",
                "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 201},
            },
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        (
            {
                "type": "static",
                "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": -1},
            },
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        ({"type": "bogus"}, "chunking_strategy"),
    ],
)
async def test_bad_chunking_refused(
    tenant_client: openai.AsyncOpenAI, engine_app: FastAPI, strategy: dict, param: str
) -> None:
    before = await rows(engine_app)
    with pytest.raises(openai.BadRequestError) as caught:
        await tenant_client.vector_stores.create(chunking_strategy=strategy)
    error = caught.value.body
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param, error
    assert await rows(engine_app) == before


async def test_other_tenants_ids_and_bad_search(
    client_for, tenant_client: openai.AsyncOpenAI, engine_app: FastAPI
) -> None:
    other = client_for("sk-other-tenant-vs")
    their_file = await upload(other, "theirs.txt", CATS)
    their_store = await other.vector_stores.create(name="theirs")
    before = await rows(engine_app)
    with pytest.raises(openai.BadRequestError) as caught:
        await tenant_client.vector_stores.create(file_ids=[their_file])
    assert caught.value.body["param"] == "file_ids[0]"
    with pytest.raises(openai.NotFoundError):
        await tenant_client.vector_stores.retrieve(their_store.id)
    with pytest.raises(openai.NotFoundError):
        await tenant_client.vector_stores.search(their_store.id, query="x")
    with pytest.raises(openai.NotFoundError):
        await tenant_client.vector_stores.files.create(vector_store_id=their_store.id, file_id="f")
    assert await rows(engine_app) == before
    mine = await tenant_client.vector_stores.create()
    for kwargs, param in (
        ({"max_num_results": 51}, "max_num_results"),
        ({"max_num_results": 0}, "max_num_results"),
        ({"ranking_options": {"score_threshold": 1.5}}, "ranking_options.score_threshold"),
        ({"filters": {"type": "near", "key": "a", "value": 1}}, "filters"),
    ):
        with pytest.raises(openai.BadRequestError) as caught:
            await tenant_client.vector_stores.search(mine.id, query="x", **kwargs)
        assert caught.value.body["param"] == param, caught.value.body


async def test_ten_thousand_files_is_the_limit(
    tenant_client: openai.AsyncOpenAI, engine_app: FastAPI
) -> None:
    client = tenant_client
    store = await client.vector_stores.create()
    tenant = tenant_of(engine_app, client.api_key)
    # 10,000 files already attached (written directly: uploading them would take minutes).
    filler = [
        {
            **build_file_row(tenant, store.id, f"file-filler{i}", strategy_of(None), None, None),
            "status": "completed",
        }
        for i in range(10_000)
    ]
    async with engine_state(engine_app).db.write() as conn:
        await repo.insert_files(conn, filler)
    extra = await upload(client, "one-more.txt", CATS)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.vector_stores.files.create(vector_store_id=store.id, file_id=extra)
    assert "at most 10000 files" in caught.value.body["message"]
    assert (await client.vector_stores.retrieve(store.id)).file_counts.total == 10_000


async def test_deleting_a_store_detaches_it(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    store = await client.vector_stores.create()
    assistant = await client.beta.assistants.create(
        model="m", tool_resources={"file_search": {"vector_store_ids": [store.id]}}
    )
    thread = await client.beta.threads.create(
        tool_resources={"file_search": {"vector_store_ids": [store.id]}}
    )
    assert (await client.vector_stores.delete(store.id)).deleted
    assistant = await client.beta.assistants.retrieve(assistant.id)
    assert assistant.tool_resources.file_search.vector_store_ids == []
    thread = await client.beta.threads.retrieve(thread.id)
    assert thread.tool_resources.file_search.vector_store_ids == []


async def test_vector_stores_helper_builds_a_store(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    file_id = await upload(client, "cats.txt", CATS)
    helper = {"vector_stores": [{"file_ids": [file_id], "metadata": {"made": "helper"}}]}
    assistant = await client.beta.assistants.create(
        model="m", tool_resources={"file_search": helper}
    )
    thread = await client.beta.threads.create(tool_resources={"file_search": helper})
    run = await client.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"tool_resources": {"file_search": helper}}
    )
    run_thread = await client.beta.threads.retrieve(run.thread_id)
    made = [
        assistant.tool_resources.file_search.vector_store_ids,
        thread.tool_resources.file_search.vector_store_ids,
        run_thread.tool_resources.file_search.vector_store_ids,
    ]
    assert all(len(ids) == 1 for ids in made) and len({ids[0] for ids in made}) == 3
    for _ in range(600):  # the run fails (no provider here): wait until it has ended
        run = await client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
        if run.status not in ("queued", "in_progress"):
            break
        await asyncio.sleep(0.05)
    for ids in made:
        store = await wait_indexed(client, ids[0])  # no work left behind for later tests
        assert store.metadata == {"made": "helper"} and store.file_counts.completed == 1
        files = await client.vector_stores.files.list(ids[0])
        assert [f.id for f in files.data] == [file_id]


async def test_cancel_a_batch_and_list_stores(tenant_client: openai.AsyncOpenAI) -> None:
    client = tenant_client
    text = b" ".join(b"sentence %d about nothing in particular." % i for i in range(600))
    ids = [await upload(client, f"n{i}.txt", text) for i in range(6)]
    store = await client.vector_stores.create(name="to-cancel")
    batch = await client.vector_stores.file_batches.create(store.id, file_ids=ids)
    cancelled = await client.vector_stores.file_batches.cancel(
        batch_id=batch.id, vector_store_id=store.id
    )
    assert cancelled.status == "cancelled"
    counts = cancelled.file_counts
    assert counts.cancelled >= 1 and counts.total == 6
    store = await create_and_poll(client, name="second")
    listed = await client.vector_stores.list(limit=1)
    assert [s.id for s in listed.data] == [store.id] and listed.has_more
    older = await client.vector_stores.list(limit=5, after=store.id)
    assert "to-cancel" in [s.name for s in older.data]
    files = await client.vector_stores.file_batches.list_files(
        batch_id=batch.id, vector_store_id=cancelled.vector_store_id, filter="cancelled"
    )
    assert len(files.data) == counts.cancelled
    assert all(f.status == "cancelled" for f in files.data)


async def test_description_on_create_and_modify(
    tenant_client: openai.AsyncOpenAI, engine_app: FastAPI
) -> None:
    """`description` (CreateVectorStoreRequest, the SDK's `vector_stores.create`) is accepted
    and stored; modify takes it too (the SDK sends it in `extra_body`). The object does not
    carry it: VectorStoreObject declares no `description`, nor does the SDK's model."""
    store = await tenant_client.vector_stores.create(name="kb", description="Product manuals")
    assert store.name == "kb"
    state = engine_state(engine_app)
    async with state.db.read() as conn:
        body = await repo_body(conn, store.id)
    assert body["description"] == "Product manuals"
    await tenant_client.vector_stores.update(store.id, extra_body={"description": "Manuals v2"})
    async with state.db.read() as conn:
        assert (await repo_body(conn, store.id))["description"] == "Manuals v2"
    before = await rows(engine_app)
    with pytest.raises(openai.BadRequestError) as caught:
        await tenant_client.vector_stores.create(description="x" * 513)
    assert caught.value.body["param"] == "description", caught.value.body
    assert await rows(engine_app) == before


async def repo_body(conn: Any, store_id: str) -> dict:
    query = select(repo.STORES.c.body).where(repo.STORES.c.id == store_id)
    return dict((await conn.execute(query)).scalar_one())
