"""Local embedding models side by side (issue 22): ingestion speed end to end and retrieval
quality of keyword, vector and hybrid search, on two corpora the project did not write.

    uv run python bench/bench_retrieval.py [--models M1,M2] [--corpora docstrings,man]
        [--cache PATH] [--from-cache] [--write]

Per model: an engine on a fresh SQLite database with LOCAL_EMBEDDING_MODEL=M; each corpus is
uploaded, added as one file batch, and timed until every file is indexed (wall seconds and
the process's CPU seconds, which include the embedding threads). Then each query's keyword
ranking and vector ranking (50 deep, the engine's own functions) are read once and kept in
the cache (JSON), so the fusion can be evaluated again without indexing again (--from-cache).

Corpora and queries:
- docstrings: 120 standard library docstrings (tests/support/docstring_corpus.py); the first
  sentence is the query ("question"), its content words (vectors.search.rewrite) the short one.
- man: this machine's man pages (bench/man_corpus.py); the NAME description is the short
  query, hand-written questions the natural ones.
R@1 / R@5 / MRR are by file: the results' file names in order, each file once (top 10 chunks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, machine_lines, write_section
from man_corpus import QUESTIONS, pages
from sqlalchemy import select

sys.path.insert(0, str(ROOT))

from openai_assistant_mcp.engine.store import vector_repository as repo
from openai_assistant_mcp.engine.vectors import local_models
from openai_assistant_mcp.engine.vectors.fusion import Hit, Rankings, fuse
from openai_assistant_mcp.engine.vectors.search import (
    StoreForSearch,
    rankings,
    rewrite,
)
from tests.support.docstring_corpus import docstring_pairs
from tests.support.engine import engine_settings, openai_client, running_app

HEADING = "## Local embeddings and fusion (issue 22)"
CACHE = Path(tempfile.gettempdir()) / "bench_retrieval_cache.json"
LIMIT = 10


def corpora(names: list[str]) -> dict[str, dict[str, Any]]:
    """{corpus: {"files": {filename: text}, "queries": {kind: [(query, filename)]}}}."""
    out: dict[str, dict[str, Any]] = {}
    if "docstrings" in names:
        pairs = docstring_pairs(120)
        out["docstrings"] = {
            "files": {p.name: p.document for p in pairs},
            "queries": {
                "short": [(rewrite(p.query), p.name) for p in pairs],
                "question": [(p.query, p.name) for p in pairs],
            },
        }
    if "man" in names:
        found = pages()
        names_found = {p.name for p in found}
        out["man"] = {
            "files": {f"{p.name}.txt": p.text for p in found},
            "queries": {
                "short": [(p.description, f"{p.name}.txt") for p in found],
                "question": [(q, f"{n}.txt") for q, n in QUESTIONS if n in names_found],
            },
        }
    return out


async def index_and_rank(model: str, corpus: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        url = f"sqlite+aiosqlite:///{data}/bench.db"
        settings = engine_settings(url, Path(data), LOCAL_EMBEDDING_MODEL=model)
        async with running_app(settings) as app:
            state = app.state.engine
            client = openai_client(app, "sk-bench-retrieval")
            ids = [
                (await client.files.create(file=(name, text.encode()), purpose="assistants")).id
                for name, text in corpus["files"].items()
            ]
            store = await client.vector_stores.create(name=model)
            await asyncio.to_thread(local_models.load, model)  # loading is not ingestion
            cpu, started = time.process_time(), time.perf_counter()
            batch = await client.vector_stores.file_batches.create_and_poll(
                store.id, file_ids=ids, poll_interval_ms=50
            )
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert batch.file_counts.completed == len(ids), batch.file_counts
            async with state.db.read() as conn:
                rows = (
                    await conn.execute(
                        select(repo.CHUNKS.c.id, repo.CHUNKS.c.file_id, repo.CHUNKS.c.tokens).where(
                            repo.CHUNKS.c.vector_store_id == store.id
                        )
                    )
                ).all()
                found = await repo.stores_of_tenant(conn, tenant_of(state), [store.id])
            names = {fid: name for fid, name in zip(ids, corpus["files"], strict=True)}
            chunk_files = {int(r.id): names[r.file_id] for r in rows}
            _, record, generation = found[store.id]
            target = [StoreForSearch(store.id, record, generation)]
            ranked: dict[str, list[dict[str, Any]]] = {}
            for kind, queries in corpus["queries"].items():
                ranked[kind] = []
                for query, expected in queries:
                    got = await rankings(
                        state.db,
                        settings,
                        target,
                        [query],
                        file_ids=None,
                        api_key=None,
                        pgvector=False,
                    )
                    ranked[kind].append(
                        {"expected": expected, "keyword": got.keyword, "vector": got.vector}
                    )
            await client.close()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "chunks": len(rows),
        "tokens": sum(int(r.tokens) for r in rows),
        "mb": sum(len(t.encode()) for t in corpus["files"].values()) / 1e6,
        "chunk_files": chunk_files,
        "ranked": ranked,
    }


def tenant_of(state: Any) -> str:
    return state.hasher.tenant_for("sk-bench-retrieval")


def metrics(results: list[list[str]], expected: list[str]) -> tuple[float, float, float]:
    """R@1, R@5, MRR over queries, by file."""
    r1 = r5 = mrr = 0.0
    for files, want in zip(results, expected, strict=True):
        files = list(dict.fromkeys(files))
        if want in files:
            rank = files.index(want) + 1
            r1 += rank == 1
            r5 += rank <= 5
            mrr += 1 / rank
    n = len(expected) or 1
    return r1 / n, r5 / n, mrr / n


def rrf60(found: Rankings, limit: int) -> list[Hit]:
    """The fusion before issue 22: plain RRF, k = 60, both sides weighing the same."""
    lists = found.keyword + [[chunk_id for chunk_id, _ in scored] for scored in found.vector]
    fused: dict[int, float] = {}
    for ranking in lists:
        for rank, chunk_id in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (60 + rank)
    ordered = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [Hit(chunk_id, score) for chunk_id, score in ordered]


FUSIONS: dict[str, Callable[[Rankings, int], list[Hit]]] = {"hybrid": fuse, "rrf60": rrf60}


def evaluate(run: dict[str, Any]) -> dict[str, dict[str, tuple]]:
    """{kind: {method: (R@1, R@5, MRR)}} for keyword, vector, hybrid (today's fusion) and
    rrf60 (the fusion before)."""
    files = {int(k): v for k, v in run["chunk_files"].items()}
    table: dict[str, dict[str, tuple]] = {}
    for kind, entries in run["ranked"].items():
        expected = [e["expected"] for e in entries]
        methods: dict[str, list[list[str]]] = {
            "keyword": [],
            "vector": [],
            **{f: [] for f in FUSIONS},
        }
        for e in entries:
            keyword = [[int(c) for c in r] for r in e["keyword"]]
            vector = [[(int(c), float(s)) for c, s in r] for r in e["vector"]]
            methods["keyword"].append([files[c] for c in keyword[0][:LIMIT]] if keyword else [])
            methods["vector"].append([files[c] for c, _ in vector[0][:LIMIT]] if vector else [])
            for name, fusion in FUSIONS.items():
                hits = fusion(Rankings(keyword, vector), LIMIT)
                methods[name].append([files[h.chunk_id] for h in hits])
        table[kind] = {m: metrics(r, expected) for m, r in methods.items()}
    return table


def report(cache: dict[str, Any]) -> str:
    lines = [
        *machine_lines(),
        f"- load at the end: {os.getloadavg()[0]:.1f}",
        "",
        "Ingestion end to end (upload done; file batch until every file is indexed; CPU = the "
        "engine process, embedding threads included):",
        "",
        "| model | corpus | files | MB | chunks | tokens | s | chunks/s | MB/s | CPU-s/chunk |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model, per in cache.items():
        for name, run in per.items():
            lines.append(
                f"| {model} | {name} | {len(set(run['chunk_files'].values()))} | "
                f"{run['mb']:.2f} | {run['chunks']} | {run['tokens']} | {run['seconds']:.1f} | "
                f"{run['chunks'] / run['seconds']:.1f} | {run['mb'] / run['seconds']:.3f} | "
                f"{run['cpu'] / max(1, run['chunks']):.3f} |"
            )
    lines += [
        "",
        "Retrieval (R@1 / R@5 / MRR by file, top 10 chunks):",
        "",
        "| model | corpus | queries | n | keyword | vector | hybrid | hybrid before (RRF k=60) |",
        "| --- | --- | --- | ---: | --- | --- | --- | --- |",
    ]
    for model, per in cache.items():
        for name, run in per.items():
            for kind, row in evaluate(run).items():
                cells = [" / ".join(f"{x:.3f}" for x in row[m]) for m in row]
                lines.append(
                    f"| {model} | {name} | {kind} | {len(run['ranked'][kind])} | "
                    + " | ".join(cells)
                    + " |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=",".join(local_models.MODELS))
    parser.add_argument("--corpora", default="docstrings,man")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--from-cache", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    cache: dict[str, Any] = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    if not args.from_cache:
        chosen = corpora(args.corpora.split(","))
        for model in args.models.split(","):
            for name, corpus in chosen.items():
                run = asyncio.run(index_and_rank(model, corpus))
                cache.setdefault(model, {})[name] = run
                args.cache.write_text(json.dumps(cache))
                print(
                    f"{model} {name}: {run['chunks']} chunks in {run['seconds']:.1f} s", flush=True
                )
    text = report(cache)
    print(text)
    if args.write:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
