"""Ingestion with the local embeddings end to end (issue 22): a file batch of this machine's
man pages (whole pages, as `man -P cat` prints them) through the real path (SDK in-process ->
upload -> file batch -> the ingestion worker), timed until every file is indexed, while
searches run on another store; file_counts read every second.

    uv run python bench/bench_ingestion.py [--files 1000] [--model M] [--search-every 0.2]

Reports chunks/s, MB/s, CPU-seconds per chunk (the engine process, embedding threads
included), the cores kept busy (CPU-s / wall s), search p50/p99 during the ingestion (hybrid,
each query new, so each is embedded) against the same searches for 15 s before it, and how
file_counts.completed moved.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import ROOT, machine_lines, percentile

sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from openai_assistant_mcp.engine.store import vector_repository as repo
from openai_assistant_mcp.engine.vectors import local_models
from tests.support.engine import engine_settings, openai_client, running_app

PAGES = Path(tempfile.gettempdir()) / "bench_ingestion_pages"
IDLE_SECONDS = 15.0


def render(name: str) -> tuple[str, str]:
    env = {**os.environ, "MANWIDTH": "80"}
    done = subprocess.run(["man", "-P", "cat", name], capture_output=True, text=True, env=env)
    return name, done.stdout


def man_pages(count: int) -> dict[str, bytes]:
    """The first `count` pages of /usr/share/man/man1 (sorted) with over 1 KB of text,
    rendered once and kept in a temporary directory."""
    PAGES.mkdir(exist_ok=True)
    names = sorted({p.split(".")[0] for p in os.listdir("/usr/share/man/man1")})
    out: dict[str, bytes] = {}
    for start in range(0, len(names), 64):
        missing = [n for n in names[start : start + 64] if not (PAGES / f"{n}.txt").exists()]
        with ThreadPoolExecutor(2) as pool:
            for name, text in pool.map(render, missing):
                (PAGES / f"{name}.txt").write_text(text)
        for name in names[start : start + 64]:
            data = (PAGES / f"{name}.txt").read_bytes()
            if len(data) > 1024:
                out[f"{name}.txt"] = data
            if len(out) >= count:
                return out
    return out


async def searcher(client: Any, store_id: str, every: float, stop: asyncio.Event) -> list[float]:
    words = "file text line output input option directory user program command".split()
    samples, i = [], 0
    while not stop.is_set():
        query = f"how to {words[i % len(words)]} {words[(i * 7 + 3) % len(words)]} {i}"
        i += 1
        started = time.perf_counter()
        await client.vector_stores.search(store_id, query=query, max_num_results=5)
        samples.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(every)
    return samples


async def run(files: dict[str, bytes], model: str, every: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        url = f"sqlite+aiosqlite:///{data}/bench.db"
        settings = engine_settings(url, Path(data), LOCAL_EMBEDDING_MODEL=model)
        async with running_app(settings) as app:
            client = openai_client(app, "sk-bench-ingestion")
            other = await client.vector_stores.create(name="searched")
            await client.vector_stores.file_batches.upload_and_poll(
                other.id, files=[("a.txt", b"copy files and directories"), ("b.txt", b"x y")]
            )
            ids = [
                (await client.files.create(file=(name, text), purpose="assistants")).id
                for name, text in files.items()
            ]
            store = await client.vector_stores.create(name="ingested")
            await asyncio.to_thread(local_models.load, model)  # loading is not ingestion
            stop = asyncio.Event()
            # The same searches with no ingestion first: what the load alone costs them.
            idle = asyncio.create_task(searcher(client, other.id, every, stop))
            await asyncio.sleep(IDLE_SECONDS)
            stop.set()
            baseline = await idle
            stop.clear()
            searches = asyncio.create_task(searcher(client, other.id, every, stop))
            cpu, started = time.process_time(), time.perf_counter()
            batch = await client.vector_stores.file_batches.create(store.id, file_ids=ids)
            progress: list[tuple[float, int]] = []
            while batch.status == "in_progress":
                await asyncio.sleep(1.0)
                batch = await client.vector_stores.file_batches.retrieve(
                    batch.id, vector_store_id=store.id
                )
                progress.append((time.perf_counter() - started, batch.file_counts.completed))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            stop.set()
            latencies = await searches
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
    return {
        "files": len(files),
        "completed": batch.file_counts.completed,
        "mb": sum(len(t) for t in files.values()) / 1e6,
        "chunks": chunks,
        "seconds": seconds,
        "cpu": cpu,
        "searches": latencies,
        "baseline": baseline,
        "progress": progress,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--model", default=local_models.MINILM, choices=local_models.MODELS)
    parser.add_argument("--search-every", type=float, default=0.2)
    args = parser.parse_args()
    files = man_pages(args.files)
    load = os.getloadavg()[0]
    r = asyncio.run(run(files, args.model, args.search_every))
    steps = [c for _, c in r["progress"]]
    moves = sum(1 for a, b in itertools.pairwise(steps) if b > a)
    print("\n".join(machine_lines()))
    print(f"- load at the start {load:.1f}, at the end {os.getloadavg()[0]:.1f}")
    print(
        f"{args.model}: {r['completed']}/{r['files']} files, {r['mb']:.2f} MB, "
        f"{r['chunks']} chunks in {r['seconds']:.1f} s: {r['chunks'] / r['seconds']:.1f} chunks/s, "
        f"{r['mb'] / r['seconds']:.3f} MB/s, {r['cpu'] / r['chunks']:.3f} CPU-s/chunk, "
        f"{r['cpu'] / r['seconds']:.2f} cores busy"
    )
    s = r["searches"]
    print(
        f"searches during ingestion: {len(s)}, p50 {percentile(s, 50):.0f} ms, "
        f"p99 {percentile(s, 99):.0f} ms, max {max(s):.0f} ms"
    )
    b = r["baseline"]
    print(
        f"the same searches before it ({IDLE_SECONDS:.0f} s, no ingestion): {len(b)}, "
        f"p50 {percentile(b, 50):.0f} ms, p99 {percentile(b, 99):.0f} ms"
    )
    print(f"file_counts.completed read {len(steps)} times, rose {moves} times: {steps[:12]}...")


if __name__ == "__main__":
    main()
