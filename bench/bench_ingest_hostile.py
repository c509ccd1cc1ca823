"""Ingestion with extraction in child processes (issue 21, item 6): what crafted files cost
the server, and what the child processes cost ordinary ingestion.

    uv run python bench/bench_ingest_hostile.py [--corpora 100x4000,200x60,100x4000:html]
        [--rounds 2] [--seconds 120] [--skip-hostile] [--skip-throughput] [--write]

hostile: an engine in its own process (uvicorn, SQLite, keyword-only) ingests a 650 KB DOCX
holding 200 MB of XML, a 20 KB PDF whose 30 pages share one compressed content stream and
12 MB of HTML, while another tenant lists its files every 100 ms: the server's RSS (sampled
every 20 ms) against its RSS before, and that tenant's request latency.

throughput: keyword-only ingestion (LOCAL_EMBEDDINGS=false, so the embedder does not dominate)
of FILESxWORDS texts (`:html`: as HTML documents) through the real path (SDK in-process ->
upload -> file batch -> worker), extraction in the server's threads (the path before,
restored for the bench by replacing the worker's `extract_chunks`) and in child processes,
alternated `--rounds` times.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, machine_lines, percentile, rss_mb, write_section

sys.path.insert(0, str(ROOT))

import openai

from openai_assistant_mcp.engine.vectors import worker
from openai_assistant_mcp.engine.vectors.extraction import ExtractionLimits
from openai_assistant_mcp.engine.vectors.text import chunk_text, extract_text
from tests.runner.engine_process import EngineProcess
from tests.support.engine import engine_settings, openai_client, running_app
from tests.support.hostile_files import (
    big_html,
    docx_with_xml,
    pdf_with_shared_stream,
)

MIB = 1024 * 1024


async def in_server_threads(
    filename: str, data: bytes, max_tokens: int, overlap: int, limits: ExtractionLimits
) -> list[tuple[str, int]]:
    """The extraction path before issue 21: the server's own threads, no limits."""
    text = await asyncio.to_thread(extract_text, filename, data)
    chunks = await asyncio.to_thread(chunk_text, text, max_tokens, overlap)
    return [(chunk.text, chunk.tokens) for chunk in chunks]


async def ingest_once(texts: list[bytes], suffix: str) -> float:
    """Seconds from adding `texts` as one batch to the batch's end (keyword-only, SQLite)."""
    with tempfile.TemporaryDirectory() as data:
        url = f"sqlite+aiosqlite:///{data}/assistants.db"
        settings = engine_settings(url, Path(data), LOCAL_EMBEDDINGS=False)
        async with running_app(settings) as app:
            client = openai_client(app, "sk-bench")
            ids = [
                (await client.files.create(file=(f"d{i}{suffix}", t), purpose="assistants")).id
                for i, t in enumerate(texts)
            ]
            store = await client.vector_stores.create()
            started = time.perf_counter()
            batch = await client.vector_stores.file_batches.create_and_poll(
                store.id, file_ids=ids, poll_interval_ms=50
            )
            elapsed = time.perf_counter() - started
            assert batch.file_counts.completed == len(texts), batch.file_counts
            await client.close()
    return elapsed


def corpus(files: int, words: int, kind: str, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    vocabulary = [f"w{n}" for n in range(5000)] + "the of and to in ship harbour".split()
    texts = [" ".join(rng.choice(vocabulary) for _ in range(words)) for _ in range(files)]
    if kind == "html":  # a document format: always extracted by a child
        texts = [f"<html><body><h1>Doc</h1><p>{text}</p></body></html>" for text in texts]
    return [text.encode() for text in texts]


async def throughput(specs: list[tuple[int, int, str]], rounds: int) -> list[dict[str, Any]]:
    child = worker.extract_chunks
    rows = []
    for files, words, kind in specs:
        texts = corpus(files, words, kind, files * words)
        suffix = ".html" if kind == "html" else ".txt"
        seconds: dict[str, list[float]] = {"server threads (before)": [], "child processes": []}
        await ingest_once(texts[:5], suffix)  # warm: imports, the zygote, the tokenizer
        for _ in range(rounds):
            for name, extract in (
                ("server threads (before)", in_server_threads),
                ("child processes", child),
            ):
                worker.extract_chunks = extract  # type: ignore[assignment]
                try:
                    seconds[name].append(await ingest_once(texts, suffix))
                finally:
                    worker.extract_chunks = child
                print(f"{files} {kind} x {words}: {name} {seconds[name][-1]:.2f} s", flush=True)
        megabytes = sum(len(t) for t in texts) / 1e6
        for name, taken in seconds.items():
            rows.append(
                {
                    "corpus": f"{files} {kind} x {words} words ({megabytes:.1f} MB)",
                    "path": name,
                    "runs": taken,
                    "files_per_s": files / statistics.median(taken),
                }
            )
    return rows


class Sampler:
    """Peak RSS of a process, sampled every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def hostile(seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        engine = EngineProcess(
            f"sqlite+aiosqlite:///{data}/assistants.db",
            Path(data),
            "http://127.0.0.1:9/v1",
            LOCAL_EMBEDDINGS="false",
            INGEST_POLL_INTERVAL="0.1",
            INGEST_EXTRACTION_SECONDS=str(seconds),
        ).start()
        try:
            assert engine.process is not None
            return await _hostile_on(engine.url, engine.process.pid)
        finally:
            engine.stop()


async def _hostile_on(url: str, pid: int) -> dict[str, Any]:
    attacker = openai.AsyncOpenAI(base_url=url, api_key="sk-attacker", max_retries=0)
    other = openai.AsyncOpenAI(base_url=url, api_key="sk-other-tenant", max_retries=0)
    files = {
        "xml-200mb.docx": docx_with_xml(200 * MIB),
        "pages.pdf": pdf_with_shared_stream(),
        "big.html": big_html(12 * MIB),
    }
    ids = [
        (await attacker.files.create(file=(name, body), purpose="assistants")).id
        for name, body in files.items()
    ]
    await other.files.create(file=("mine.txt", b"other tenant"), purpose="assistants")
    for _ in range(5):
        await other.files.list()
    baseline = rss_mb(pid)
    latencies: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await other.files.list()
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)

    with Sampler(pid) as sampler:
        started = time.perf_counter()
        store = await attacker.vector_stores.create(file_ids=ids)
        prober = asyncio.create_task(probe())
        while store.status == "in_progress":
            await asyncio.sleep(0.2)
            store = await attacker.vector_stores.retrieve(store.id)
        elapsed = time.perf_counter() - started
        done.set()
        await prober
    errors = {}
    for name, file_id in zip(files, ids, strict=True):
        found = await attacker.vector_stores.files.retrieve(file_id, vector_store_id=store.id)
        errors[name] = found.last_error.message if found.last_error else found.status
    await attacker.close()
    await other.close()
    return {
        "sizes": {name: len(body) for name, body in files.items()},
        "baseline_mb": baseline,
        "peak_mb": sampler.peak,
        "elapsed": elapsed,
        "latency": latencies,
        "errors": errors,
    }


def report(hostile_result: dict[str, Any] | None, rows: list[dict[str, Any]], cmd: str) -> str:
    lines = ["## Ingestion: crafted files and extraction in child processes", "", *machine_lines()]
    lines += [f"- Command: `{cmd}`", ""]
    if hostile_result:
        h = hostile_result
        lat = h["latency"]
        lines += [
            "Crafted files (engine in its own process, SQLite, keyword-only), against the review "
            "of main @ 0ba9329 (extraction in server threads: 131 MB -> 4.5 GB RSS, another "
            "tenant's request waited 17 s, the PDF ran ~18 minutes):",
            "",
            "| file | bytes | ended with |",
            "| --- | ---: | --- |",
        ]
        for name, size in h["sizes"].items():
            lines.append(f"| {name} | {size:,} | {h['errors'][name]} |")
        lines += [
            "",
            f"- server RSS: {h['baseline_mb']:.1f} MB before, peak {h['peak_mb']:.1f} MB "
            f"(+{h['peak_mb'] - h['baseline_mb']:.1f} MB) while the three ingested "
            f"({h['elapsed']:.1f} s until all had failed)",
            f"- another tenant's `GET /v1/files` meanwhile ({len(lat)} requests): p50 "
            f"{percentile(lat, 50) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms, "
            f"max {max(lat) * 1000:.0f} ms",
            "",
        ]
    if rows:
        lines += [
            "Keyword-only ingestion throughput, extraction in the server's threads (before) "
            "and in child processes (after), alternated in one run:",
            "",
            "| corpus | extraction | runs (s) | files/s (median) |",
            "| --- | --- | --- | ---: |",
        ]
        for row in rows:
            runs = ", ".join(f"{s:.2f}" for s in row["runs"])
            lines.append(f"| {row['corpus']} | {row['path']} | {runs} | {row['files_per_s']:.1f} |")
    return "\n".join(lines) + "\n"


def spec(text: str) -> tuple[int, int, str]:
    """FILESxWORDS[:html]"""
    shape, _, kind = text.partition(":")
    files, words = shape.split("x")
    return int(files), int(words), kind or "text"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpora",
        type=lambda text: [spec(part) for part in text.split(",")],
        default=[spec("100x4000"), spec("200x60"), spec("100x4000:html"), spec("200x60:html")],
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--skip-hostile", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID`: every thread's stack, if it hangs
    run: Callable[..., Any] = asyncio.run
    hostile_result = None if args.skip_hostile else run(hostile(args.seconds))
    rows = [] if args.skip_throughput else run(throughput(args.corpora, args.rounds))
    text = report(hostile_result, rows, "uv run python " + " ".join(sys.argv))
    print(text)
    if args.write:
        write_section("## Ingestion: crafted files and extraction in child processes", text)


if __name__ == "__main__":
    main()
