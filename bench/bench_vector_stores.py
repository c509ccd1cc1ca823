"""Vector stores: ingestion throughput (keyword-only and with the local model), search latency
at 1k / 10k / 100k chunks (keyword-only and hybrid), on SQLite and PostgreSQL (pgvector), and
retrieval quality on standard library docstrings.

    uv run python bench/bench_vector_stores.py [--postgres] [--sizes 1000,10000,100000] [--write]
        [--skip-ingestion | --ingestion-only] [--keyword-corpus 200x4000] [--local-corpus 4x1000]
        [--shared-buffers 128MB]

--keyword-corpus / --local-corpus: FILESxWORDS of the ingestion corpora; the local model's is
small by default (its throughput is a few hundred to ~2,000 e5 tokens/s on 2 cores, so a
corpus of 4 x 1,000 words, ~12 chunks of 800 tokens, ends within about a minute even under
load).

Ingestion goes through the real path (SDK in-process -> upload -> file batch -> the ingestion
worker). The latency stores are filled directly through the store layer (100k chunks through
the local model would take over an hour here): chunk text is real (docstrings), vectors are
random unit vectors of the local model's size, so the vector side costs what it would.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, machine_lines, percentile, write_section
from sqlalchemy import func, select, text

sys.path.insert(0, str(ROOT))

from openai_assistant_mcp.engine.app import start_engine, stop_engine
from openai_assistant_mcp.engine.services import vector_stores
from openai_assistant_mcp.engine.store import vector_repository as repo
from openai_assistant_mcp.engine.vectors.embedders import Embedder, choose_mode
from openai_assistant_mcp.engine.vectors.search import (
    QUERY_VECTORS,
    StoreForSearch,
    keyword_ranking,
    query_terms,
)
from tests.support.docstring_corpus import docstring_pairs
from tests.support.engine import engine_settings, openai_client, running_app

HEADING = "## Vector stores (issue 12)"
QUERIES = 60
# Timed modes: (keyword, vector, ranking_options.ranker).
MODES = {
    "keyword": (True, False, "auto"),
    "hybrid": (True, True, "auto"),
    "none": (True, True, "none"),
}


def corpus_words() -> list[str]:
    pairs = docstring_pairs(10_000, min_document_chars=50, per_module=1000)
    return " ".join(p.query + " " + p.document for p in pairs).split()


async def ingestion(database_url: str, local: bool, files: int, words: int) -> dict[str, Any]:
    """Upload `files` texts of `words` words, add them as one batch, time until indexed."""
    vocabulary = corpus_words()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as data:
        settings = engine_settings(database_url, Path(data), LOCAL_EMBEDDINGS=local)
        async with running_app(settings) as app:
            client = openai_client(app, "sk-bench")
            texts = [
                " ".join(rng.choice(vocabulary) for _ in range(words)).encode()
                for _ in range(files)
            ]
            ids = [
                (await client.files.create(file=(f"d{i}.txt", t), purpose="assistants")).id
                for i, t in enumerate(texts)
            ]
            store = await client.vector_stores.create()
            started = time.perf_counter()
            await client.vector_stores.file_batches.create_and_poll(
                store.id, file_ids=ids, poll_interval_ms=100
            )
            elapsed = time.perf_counter() - started
            state = app.state.engine
            async with state.db.read() as conn:
                chunks = (
                    await conn.execute(
                        select(func.count())
                        .select_from(repo.CHUNKS)
                        .where(repo.CHUNKS.c.vector_store_id == store.id)
                    )
                ).scalar_one()
            await client.close()
    megabytes = sum(len(t) for t in texts) / 1e6
    return {
        "mode": "local model" if local else "keyword-only",
        "files": files,
        "mb": megabytes,
        "chunks": chunks,
        "seconds": elapsed,
    }


async def fill(state: Any, tenant: str, chunks: int, vocabulary: list[str]) -> str:
    """A store of `chunks` chunks (~100 words of docstring text, random 384-d vectors)."""
    store = await vector_stores.create(state, tenant, {"name": f"bench-{chunks}"})
    rng = random.Random(chunks)
    vectors_rng = np.random.default_rng(chunks)
    per_file = 100
    pgvector = state.ingestion.pgvector
    for start in range(0, chunks, per_file):
        count = min(per_file, chunks - start)
        texts = [" ".join(rng.choice(vocabulary) for _ in range(100)) for _ in range(count)]
        vectors = vectors_rng.standard_normal((count, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        async with state.db.write() as conn:
            await repo.replace_file_chunks(
                conn,
                store["id"],
                f"file-bench{start}",
                [(t, 130) for t in texts],
                vectors,
                pgvector=pgvector,
            )
    async with state.db.write() as conn:
        await repo.bump_generation(conn, store["id"])
    return store["id"]


async def index_once(state: Any) -> None:
    """PostgreSQL: build the HNSW index once over every store's rows (inserting 100k rows into
    a live index took hours here) with room to build it in memory, and ANALYZE, which
    autovacuum does by itself after such a fill (the keyword ranking reads its statistics)."""
    if not state.db.is_postgres:
        return
    async with state.db.write() as conn:
        if state.ingestion.pgvector:
            await conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
            await repo.ensure_hnsw_index(conn, 384)
        await conn.execute(text("ANALYZE vector_store_chunks"))


async def before_keyword(conn: Any, store_id: str, query: str) -> list[int]:
    """The keyword ranking as it was before the budget (for the A/B): every informative word
    OR-ed, every matching chunk of every store scored, the store filtered by a join."""
    terms = query_terms(query)
    if not terms:
        return []
    if conn.dialect.name == "sqlite":
        sql = (
            "SELECT c.id FROM vector_store_chunks_fts f "
            "JOIN vector_store_chunks c ON c.id = f.rowid "
            "WHERE vector_store_chunks_fts MATCH :q AND c.vector_store_id = :store "
            "ORDER BY bm25(vector_store_chunks_fts) LIMIT 50"
        )
        q = " OR ".join(f'"{term}"' for term in terms)
    else:
        sql = (
            "SELECT c.id FROM vector_store_chunks c, to_tsquery('english', :q) q "
            "WHERE c.tsv @@ q AND c.vector_store_id = :store "
            "ORDER BY ts_rank_cd(c.tsv, q) DESC LIMIT 50"
        )
        q = " | ".join(terms)
    return [row[0] for row in await conn.execute(text(sql), {"q": q, "store": store_id})]


async def keyword_ab(state: Any, store_id: str, queries: list[str]) -> dict[str, Any]:
    """The keyword ranking alone, before and after, alternating query by query (same load)."""
    async with state.db.read() as conn:
        stores = await repo.stores_of_tenant(conn, "bench", [store_id])
    _body, record, generation = stores[store_id]
    store = StoreForSearch(store_id, record, generation)
    before, after = [], []
    for query in ["warm up", *queries]:
        async with state.db.read() as conn:
            t = time.perf_counter()
            await before_keyword(conn, store_id, query)
            before.append((time.perf_counter() - t) * 1000)
        async with state.db.read() as conn:
            t = time.perf_counter()
            await keyword_ranking(conn, [store], query, 50, None)
            after.append((time.perf_counter() - t) * 1000)
    before, after = before[1:], after[1:]
    return {
        "before": (percentile(before, 50), percentile(before, 99)),
        "after": (percentile(after, 50), percentile(after, 99)),
    }


async def measure(state: Any, store_id: str, queries: list[str]) -> dict[str, Any]:
    """p50 / p99 of the service's search in each mode, and the keyword A/B."""
    timings: dict[str, Any] = {"ab": await keyword_ab(state, store_id, queries)}
    for mode, (keyword, vector, ranker) in MODES.items():
        QUERY_VECTORS.clear()  # every query is embedded, as a new one would be
        samples = []
        for query in ["warm up", *queries]:
            t = time.perf_counter()
            await vector_stores.search(
                state,
                "bench",
                [store_id],
                query,
                max_num_results=10,
                keyword=keyword,
                vector=vector,
                ranking_options={"ranker": ranker},
            )
            samples.append((time.perf_counter() - t) * 1000)
        timings[f"{mode}_first_ms"] = samples[0]
        timings[mode] = (percentile(samples[1:], 50), percentile(samples[1:], 99))
    return timings


async def latency(database_url: str, sizes: list[int]) -> dict[str, Any]:
    """SQLite: each store measured once filled. PostgreSQL: every store filled, the HNSW
    index built once, then each measured."""
    vocabulary = corpus_words()
    queries = [p.query for p in docstring_pairs(QUERIES, per_module=2)]
    out: dict[str, Any] = {"sizes": {}, "fill_s": {}}
    with tempfile.TemporaryDirectory() as data:
        settings = engine_settings(database_url, Path(data))
        state = await start_engine(settings)
        try:
            out["pgvector"] = state.ingestion.pgvector
            filled = {}
            for size in sizes:
                started = time.perf_counter()
                filled[size] = await fill(state, "bench", size, vocabulary)
                out["fill_s"][size] = time.perf_counter() - started
                print(size, "filled in", round(out["fill_s"][size], 1), "s", flush=True)
                if not state.db.is_postgres:
                    out["sizes"][size] = await measure(state, filled[size], queries)
                    print(size, out["sizes"][size], flush=True)
            if state.db.is_postgres:
                started = time.perf_counter()
                await index_once(state)
                out["index_s"] = time.perf_counter() - started
                for size, store_id in filled.items():
                    out["sizes"][size] = await measure(state, store_id, queries)
                    print(size, out["sizes"][size], flush=True)
            embedder = Embedder(choose_mode(settings), settings)
            samples = []
            for query in queries:
                t = time.perf_counter()
                await embedder.query(query, None)
                samples.append((time.perf_counter() - t) * 1000)
            out["embed"] = (percentile(samples, 50), percentile(samples, 99))
        finally:
            await stop_engine(state)
    return out


async def budget_quality(database_url: str, pairs_count: int) -> list[tuple[str, float, float]]:
    """Keyword-only recall@5 / MRR on docstring pairs with the keyword budget at the share of
    a 100k-chunk store it is there (2%), at 10%, and unbounded: what leaving common words
    optional costs in quality (the 120-pair quality test is too small for the budget to bite)."""
    from openai_assistant_mcp.engine.vectors import search as search_module

    pairs = docstring_pairs(pairs_count, per_module=40)
    out = []
    with tempfile.TemporaryDirectory() as data:
        settings = engine_settings(database_url, Path(data), LOCAL_EMBEDDINGS=False)
        async with running_app(settings) as app:
            client = openai_client(app, "sk-bench")
            ids = [
                (
                    await client.files.create(
                        file=(p.name, p.document.encode()), purpose="assistants"
                    )
                ).id
                for p in pairs
            ]
            store = await client.vector_stores.create()
            await client.vector_stores.file_batches.create_and_poll(
                store.id, file_ids=ids, poll_interval_ms=200
            )
            state = app.state.engine
            tenant = state.hasher.tenant_for("sk-bench")
            await index_once(state)  # PostgreSQL: ANALYZE, as autovacuum would after this
            saved = search_module.KEYWORD_BUDGET, search_module.KEYWORD_SHARE
            search_module.KEYWORD_SHARE = {"sqlite": 0.0, "postgresql": 0.0}
            try:
                for title, budget in (
                    ("2% of the chunks (as 2,000 of 100k)", 0.02 * len(pairs)),
                    ("5% of the chunks (as 5,000 of 100k)", 0.05 * len(pairs)),
                    ("10% of the chunks (the default's share above 20k chunks)", 0.1 * len(pairs)),
                    ("unbounded (every informative word required)", 1e12),
                ):
                    search_module.KEYWORD_BUDGET = budget
                    hits, reciprocal = 0, 0.0
                    for pair in pairs:
                        results = await vector_stores.search(
                            state, tenant, [store.id], pair.query, max_num_results=10, vector=False
                        )
                        names = list(dict.fromkeys(r["filename"] for r in results))
                        hits += pair.name in names[:5]
                        if pair.name in names:
                            reciprocal += 1.0 / (names.index(pair.name) + 1)
                    out.append((title, hits / len(pairs), reciprocal / len(pairs)))
                    print(out[-1], flush=True)
            finally:
                search_module.KEYWORD_BUDGET, search_module.KEYWORD_SHARE = saved
            await client.close()
    return out


def postgres_url(shared_buffers: str = "128MB") -> tuple[Any, str]:
    from tests.support.postgres import PostgresServer

    server = PostgresServer.start(shared_buffers=shared_buffers)
    return server, asyncio.run(server.new_database_url("bench_vs"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--skip-ingestion", action="store_true")
    parser.add_argument("--ingestion-only", action="store_true")
    parser.add_argument("--keyword-corpus", default="200x4000", help="FILESxWORDS")
    parser.add_argument("--local-corpus", default="4x1000", help="FILESxWORDS")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--budget-quality", type=int, default=0, metavar="PAIRS")
    parser.add_argument(
        "--shared-buffers",
        default="128MB",
        help="the bench PostgreSQL's shared_buffers (default: PostgreSQL's own default)",
    )
    args = parser.parse_args()
    corpora = [
        (local, *(int(n) for n in spec.lower().split("x")))
        for local, spec in ((False, args.keyword_corpus), (True, args.local_corpus))
    ]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    lines = [HEADING, "", *machine_lines(), ""]
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = lambda name: f"sqlite+aiosqlite:///{tmp}/{name}.db"  # noqa: E731
        if not args.skip_ingestion:
            lines += [
                "Ingestion (SDK in-process -> files -> one file batch -> the worker, SQLite; "
                "text of docstring words, 800/400-token chunks):",
                "",
                "| mode | files | MB of text | chunks | seconds | MB/s | chunks/s |",
                "| --- | --- | --- | --- | --- | --- | --- |",
            ]
            for local, files, words in corpora:
                r = asyncio.run(ingestion(sqlite(f"ingest{local}"), local, files, words))
                lines.append(
                    f"| {r['mode']} | {r['files']} | {r['mb']:.2f} | {r['chunks']} | "
                    f"{r['seconds']:.1f} | {r['mb'] / r['seconds']:.3g} | "
                    f"{r['chunks'] / r['seconds']:.3g} |"
                )
                print(lines[-1], flush=True)
            lines.append("")
        if args.budget_quality:
            if args.postgres:
                server, url = postgres_url()
                try:
                    rows = asyncio.run(budget_quality(url, args.budget_quality))
                finally:
                    server.stop()
            else:
                rows = asyncio.run(budget_quality(sqlite("quality"), args.budget_quality))
            lines += [
                f"Keyword-only quality by keyword budget ({args.budget_quality} docstring pairs, "
                f"{'PostgreSQL' if args.postgres else 'SQLite'}):",
                "",
                "| budget | recall@5 | MRR |",
                "| --- | --- | --- |",
                *(f"| {title} | {recall:.3f} | {mrr:.3f} |" for title, recall, mrr in rows),
                "",
            ]
        measured = []
        if args.ingestion_only:
            print("\n".join(lines))  # not --write: the section holds the search figures too
            return
        if not args.no_sqlite and sizes:
            result = asyncio.run(latency(sqlite("latency"), sizes))
            measured.append(("SQLite (exact numpy search)", result))
        if args.postgres and sizes:
            server, url = postgres_url(args.shared_buffers)
            try:
                result = asyncio.run(latency(url, sizes))
            finally:
                server.stop()
            kind = "pgvector HNSW" if result["pgvector"] else "no pgvector: exact numpy search"
            title = f"PostgreSQL ({kind}, GIN full-text, shared_buffers {args.shared_buffers})"
            measured.append((title, result))
    lines += [
        f"Search latency, in-process `services.vector_stores.search` ({QUERIES} docstring "
        "queries, top 10; hybrid includes embedding the query with the local model):",
        "",
        "| store | chunks | keyword p50 / p99 ms | hybrid p50 / p99 ms | ranker none p50 / "
        "p99 ms | first keyword / hybrid ms | keyword ranking alone, before / after, p50 ms | "
        "fill s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for title, result in measured:
        for size, t in result["sizes"].items():
            lines.append(
                f"| {title} | {size:,} | {t['keyword'][0]:.1f} / {t['keyword'][1]:.1f} | "
                f"{t['hybrid'][0]:.1f} / {t['hybrid'][1]:.1f} | "
                f"{t['none'][0]:.1f} / {t['none'][1]:.1f} | "
                f"{t['keyword_first_ms']:.0f} / {t['hybrid_first_ms']:.0f} | "
                f"{t['ab']['before'][0]:.1f} / {t['ab']['after'][0]:.1f} | "
                f"{result['fill_s'][size]:.0f} |"
            )
    for title, result in measured:
        if "index_s" in result and result["index_s"] > 1:
            lines.append(
                f"\n{title}: HNSW index built once after the fill in {result['index_s']:.0f} s."
            )
        p50, p99 = result["embed"]
        lines.append(
            f"\nQuery embedding alone (local model, {title}): p50 {p50:.1f} ms, p99 {p99:.1f} ms."
        )
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
