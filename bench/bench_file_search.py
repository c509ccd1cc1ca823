"""file_search benchmark (issue 13): the run overhead of a file_search turn beyond the provider's
own time, on a vector store of ~10k chunks, with the engine in-process and the scripted
provider (in its own process) searching and then citing.

A file_search run makes two provider calls (the search call, then the answer). Overhead = the
streamed run's time until `thread.run.completed` minus two direct provider calls (p50), i.e.
run creation, the search, recording the step and message, and the events. A plain run (one
provider call) is measured the same way for comparison.

    uv run python bench/bench_file_search.py [--postgres] [--count N] [--local] [--write]
        [--profile PATH]

--local uses the bundled local embeddings (hybrid search); the default is keyword-only. With
--local the store is filled directly through the store layer (the real chunker's chunks, with
random unit vectors of the local model's size, marked completed): ingesting ~10k chunks
through the local model takes far longer than the bench (its throughput is measured by
bench_vector_stores.py); queries are still embedded by the local model at search time.
--write replaces the "file_search (issue 13)" section of bench/RESULTS.md."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
import openai
from common import (
    machine_lines,
    measure_and_report,
    percentile,
    start_provider,
    stop_provider,
)
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openai_assistant_mcp.engine.app import create_app  # noqa: E402
from openai_assistant_mcp.engine.settings import EngineSettings  # noqa: E402
from openai_assistant_mcp.engine.store import vector_repository  # noqa: E402
from openai_assistant_mcp.engine.store.database import describe_url  # noqa: E402
from openai_assistant_mcp.mcp.asgi_transport import StreamingASGITransport  # noqa: E402

HEADING = "## file_search (issue 13)"
FILES = 10
CHUNK_TOKENS = 100
WORDS_PER_FILE = 33_000  # ~1,000 chunks of 100 tokens per file: ~10k chunks in all
MODE: dict[str, Any] = {"local": False, "postgres": False, "profile": None}


def corpus(seed: int) -> tuple[list[bytes], list[str]]:
    rng = random.Random(seed)
    vocabulary = [f"w{rng.randrange(10**6):06d}" for _ in range(20_000)]
    files = [
        " ".join(rng.choice(vocabulary) for _ in range(WORDS_PER_FILE)).encode()
        for _ in range(FILES)
    ]
    queries = [" ".join(rng.sample(vocabulary, 3)) for _ in range(50)]
    return files, queries


async def fill_directly(state: Any, store_id: str, files: dict[str, bytes]) -> None:
    """The store's files as completed, with the chunker's chunks and random unit vectors of
    the local model's size (see the module docstring for why)."""
    import numpy as np

    from openai_assistant_mcp.engine.services.vector_store_files import (
        build_file_row,
        strategy_of,
    )
    from openai_assistant_mcp.engine.vectors.embedders import LOCAL_DIMENSIONS
    from openai_assistant_mcp.engine.vectors.text import chunk_text

    tenant = state.hasher.tenant_for("sk-bench-fs")  # the key the bench calls with
    strategy = strategy_of(
        {
            "type": "static",
            "static": {"max_chunk_size_tokens": CHUNK_TOKENS, "chunk_overlap_tokens": 0},
        }
    )
    rng = np.random.default_rng(13)
    pgvector = state.ingestion.pgvector
    for file_id, data in files.items():
        chunks = chunk_text(data.decode(), CHUNK_TOKENS, 0)
        vectors = rng.standard_normal((len(chunks), LOCAL_DIMENSIONS)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        row = build_file_row(tenant, store_id, file_id, strategy, None, None)
        usage = sum(len(c.text.encode()) for c in chunks) + int(vectors.nbytes)
        body = {**row["body"], "status": "completed", "usage_bytes": usage}
        row.update(status="completed", usage_bytes=usage, body=body)
        async with state.db.write() as conn:
            await vector_repository.insert_files(conn, [row])
            await vector_repository.replace_file_chunks(
                conn,
                store_id,
                file_id,
                [(c.text, c.tokens) for c in chunks],
                vectors,
                pgvector=pgvector,
            )
    async with state.db.write() as conn:
        if pgvector:
            await vector_repository.ensure_hnsw_index(conn, LOCAL_DIMENSIONS)
        await vector_repository.bump_generation(conn, store_id)


async def timed_run(client: openai.AsyncOpenAI, assistant_id: str, text: str) -> float:
    start = time.perf_counter()
    stream = await client.beta.threads.create_and_run(
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": text}]},
        stream=True,
    )
    status = None
    async for event in stream:
        if event.event in ("thread.run.completed", "thread.run.failed", "thread.run.incomplete"):
            status = event.event
    if status != "thread.run.completed":
        raise RuntimeError(f"run ended {status}")
    return time.perf_counter() - start


async def direct(provider: openai.AsyncOpenAI) -> float:
    start = time.perf_counter()
    stream = await provider.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "search: w000001"}],
        tools=[{"type": "function", "function": {"name": "file_search"}}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for _ in stream:
        pass
    return time.perf_counter() - start


async def _measure(database_url: str | None, count: int) -> dict[str, Any]:
    child, provider_url = start_provider(behaviour="FileSearchAgent()")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-fs-"))
    try:
        settings = EngineSettings.model_validate(
            {
                "DATA_DIR": data_dir,
                "DATABASE_URL": database_url,
                "ENGINE_SECRET": "bench-secret",
                "OPENAI_BASE_URL": provider_url,
                "LOCAL_EMBEDDINGS": MODE["local"],
                "INGEST_POLL_INTERVAL": 0.2,
            }
        )
        results: dict[str, Any] = {"database": describe_url(settings.resolved_database_url())}
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            http = httpx2.AsyncClient(
                transport=StreamingASGITransport(app), base_url="http://engine", timeout=600
            )
            client = openai.AsyncOpenAI(
                api_key="sk-bench-fs", base_url="http://engine/v1", max_retries=0, http_client=http
            )
            provider = openai.AsyncOpenAI(base_url=provider_url, api_key="sk-bench-fs")
            files, queries = corpus(13)
            ids = [
                (await client.files.create(file=(f"doc{i}.txt", data), purpose="assistants")).id
                for i, data in enumerate(files)
            ]
            started = time.perf_counter()
            strategy = {
                "type": "static",
                "static": {"max_chunk_size_tokens": CHUNK_TOKENS, "chunk_overlap_tokens": 0},
            }
            if MODE["local"]:
                store = await client.vector_stores.create(chunking_strategy=strategy)
                await fill_directly(app.state.engine, store.id, dict(zip(ids, files, strict=True)))
                store = await client.vector_stores.retrieve(store.id)
            else:
                store = await client.vector_stores.create(file_ids=ids, chunking_strategy=strategy)
            while store.status == "in_progress":
                await asyncio.sleep(0.5)
                store = await client.vector_stores.retrieve(store.id)
            results["ingest_s"] = time.perf_counter() - started
            results["fill"] = "direct, random vectors" if MODE["local"] else "ingested"
            async with app.state.engine.db.read() as conn:
                query = select(func.count()).select_from(vector_repository.CHUNKS)
                results["chunks"] = (await conn.execute(query)).scalar_one()
            results["store_status"] = store.status
            searching = await client.beta.assistants.create(
                model="m",
                tools=[{"type": "file_search"}],
                tool_resources={"file_search": {"vector_store_ids": [store.id]}},
            )
            plain = await client.beta.assistants.create(model="m")
            for query in queries[:10]:  # warm-up
                await timed_run(client, searching.id, f"search: {query}")
                await timed_run(client, plain.id, "hello")
                await direct(provider)
            search_ms, plain_ms, provider_ms = [], [], []
            for i in range(count):
                query = queries[i % len(queries)]
                search_ms.append(await timed_run(client, searching.id, f"search: {query}") * 1000)
                plain_ms.append(await timed_run(client, plain.id, "hello") * 1000)
                provider_ms.append(await direct(provider) * 1000)
            results.update(search_ms=search_ms, plain_ms=plain_ms, provider_ms=provider_ms)
            if MODE["profile"]:
                await profile(client, searching.id, queries, count, results["database"])
            await client.close()
            await provider.close()
        return results
    finally:
        stop_provider(child)


async def profile(
    client: openai.AsyncOpenAI, assistant_id: str, queries: list[str], count: int, db: str
) -> None:
    """`count` more file_search runs under pyinstrument (the whole loop thread is sampled:
    the executor's tasks are not awaited by the caller); the text report goes to
    MODE["profile"] + "-sqlite.txt" / "-postgresql.txt"."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    for i in range(count):
        await timed_run(client, assistant_id, f"search: {queries[i % len(queries)]}")
    profiler.stop()
    kind = "postgresql" if db.startswith("postgresql") else "sqlite"
    path = Path(f"{MODE['profile']}-{kind}.txt")
    await asyncio.to_thread(path.write_text, profiler.output_text(unicode=True))
    print(f"profile: {path}", flush=True)


def measure(database_url: str | None, count: int) -> dict[str, Any]:
    return asyncio.run(_measure(database_url, count))


def report(measured: list[tuple[str, dict[str, Any]]], count: int) -> str:
    mode = "local embeddings (hybrid)" if MODE["local"] else "keyword-only (LOCAL_EMBEDDINGS=false)"
    lines = [
        HEADING,
        "",
        *machine_lines(),
        "- Command: `uv run python bench/bench_file_search.py"
        + (" --postgres" if MODE["postgres"] else "")
        + f" --count {count}"
        + (" --local" if MODE["local"] else "")
        + "`",
        f"- Store: {FILES} files of {WORDS_PER_FILE:,} random words, chunks of {CHUNK_TOKENS} "
        f"tokens ({measured[0][1]['chunks']:,} chunks, {measured[0][1]['fill']}); {mode}; "
        f"{count} runs each, after 10 warm-up runs.",
        "- Overhead = streamed run time minus provider time (p50 of a direct call; x2 for the "
        "file_search run, which calls the provider twice).",
        "",
        "| database | ingest | file_search run p50 / p99 | its overhead p50 / p99 | plain run "
        "overhead p50 / p99 | provider call p50 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for title, r in measured:
        provider = statistics.median(r["provider_ms"])
        search = [ms - 2 * provider for ms in r["search_ms"]]
        plain = [ms - provider for ms in r["plain_ms"]]
        lines.append(
            f"| {title}: {r['database']} | {r['ingest_s']:.1f} s ({r['store_status']}) "
            f"| {percentile(r['search_ms'], 50):.1f} / {percentile(r['search_ms'], 99):.1f} ms "
            f"| {percentile(search, 50):.1f} / {percentile(search, 99):.1f} ms "
            f"| {percentile(plain, 50):.1f} / {percentile(plain, 99):.1f} ms "
            f"| {provider:.1f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--local", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--profile", metavar="PATH", help="also profile runs into PATH-*.txt")
    args = parser.parse_args()
    MODE.update(local=args.local, postgres=args.postgres, profile=args.profile)
    measure_and_report(args, measure, report, HEADING, "bench_file_search")


if __name__ == "__main__":
    main()
