"""Crafted documents cannot take the server (issue 21, item 6): extraction runs in child
processes bounded in memory and time, stopped when its file or store is deleted, and a file
over a limit fails alone with `last_error` naming the limit. The engine runs in its own OS
process (SQLite; extraction does not touch the database), so its RSS is its own."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import openai
import pytest

from openai_assistant_mcp.engine.vectors.text import ExtractionError, count_tokens, extract_text
from tests.runner.conftest import sdk_client
from tests.runner.engine_process import EngineProcess, engines  # noqa: F401  (fixture)
from tests.support.engine import SpecViolations
from tests.support.hostile_files import big_html, docx_with_xml, pdf_with_shared_stream
from tests.support.migrated import MigratedDatabaseURL

MIB = 1024 * 1024
RSS_BOUND = 64 * MIB  # issue 21: the server's RSS stays within +64 MiB


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def extraction_children(engine_pid: int) -> set[int]:
    """The extraction processes of an engine (busy or kept warm): children of its zygote."""
    return {child for zygote in children(engine_pid) for child in children(zygote)}


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_children(engine_pid: int) -> set[int]:
    """Extraction children that have parsed for a while (a warm idle one has used ~0 s)."""
    return {pid for pid in extraction_children(engine_pid) if cpu_seconds(pid) >= 0.5}


class PeakRSS:
    """Samples a process's RSS every 20 ms in a thread while a test waits."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss(self.pid))

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def start_engine(
    migrated_database_url: MigratedDatabaseURL,
    tmp_path: Path,
    engines: list[EngineProcess],  # noqa: F811
) -> Callable[..., Awaitable[EngineProcess]]:
    async def start(**env: str) -> EngineProcess:
        database = await migrated_database_url("sqlite")
        engine = EngineProcess(
            database,
            tmp_path,
            "http://127.0.0.1:9/v1",
            LOCAL_EMBEDDINGS="false",
            INGEST_POLL_INTERVAL="0.1",
            **env,
        )
        engines.append(engine)
        return await asyncio.to_thread(engine.start)

    return start


@pytest.fixture
def client_of(spec_violations: SpecViolations) -> Iterator[Callable[[str], openai.AsyncOpenAI]]:
    yield lambda url: sdk_client(url, "sk-hostile-documents", spec_violations)
    assert not spec_violations.take()


async def upload(client: openai.AsyncOpenAI, name: str, data: bytes) -> str:
    return (await client.files.create(file=(name, data), purpose="assistants")).id


async def test_hostile_documents_fail_alone_within_the_servers_memory(
    start_engine: Callable[..., Awaitable[EngineProcess]],
    client_of: Callable[[str], openai.AsyncOpenAI],
) -> None:
    engine = await start_engine(INGEST_EXTRACTION_SECONDS="3", INGEST_CONCURRENCY="2")
    assert engine.process is not None
    client = client_of(engine.url)
    files = {
        "xml-200mb.docx": docx_with_xml(200 * MIB),  # ~650 KB; the reviewer's 4.5 GB RSS
        "pages.pdf": pdf_with_shared_stream(),  # ~20 KB; ~9 s of CPU per page
        "big.html": big_html(12 * MIB),  # ~25 s of CPU here
    }
    ids = {name: await upload(client, name, data) for name, data in files.items()}
    ids["fine.txt"] = await upload(client, "fine.txt", b"The harbour master logs every ship.")
    baseline = rss(engine.process.pid)
    with PeakRSS(engine.process.pid) as peak:
        store = await client.vector_stores.create(file_ids=list(ids.values()))
        for _ in range(6000):  # a readiness wait (the limits end each file), not a timing check
            store = await client.vector_stores.retrieve(store.id)
            grown = peak.peak - baseline  # checked as it goes: the old code took gigabytes
            assert grown <= RSS_BOUND, f"server RSS +{grown >> 20} MiB"
            if store.status != "in_progress":
                break
            await asyncio.sleep(0.1)
    assert peak.peak - baseline <= RSS_BOUND, f"server RSS +{(peak.peak - baseline) >> 20} MiB"
    assert store.file_counts.completed == 1 and store.file_counts.failed == 3, store.file_counts

    errors = {}
    for name, file_id in ids.items():
        vs_file = await client.vector_stores.files.retrieve(file_id, vector_store_id=store.id)
        errors[name] = vs_file.last_error and (vs_file.last_error.code, vs_file.last_error.message)
    assert errors["fine.txt"] is None
    code, message = errors["xml-200mb.docx"]
    assert code == "invalid_file" and "would expand" in message and "at most" in message
    for name in ("pages.pdf", "big.html"):
        code, message = errors[name]
        assert code == "invalid_file" and "INGEST_EXTRACTION_SECONDS" in message, errors[name]
    found = await client.vector_stores.search(store.id, query="harbour master")
    assert [r.filename for r in found.data] == ["fine.txt"]


async def test_extraction_stops_when_its_file_or_store_is_deleted(
    start_engine: Callable[..., Awaitable[EngineProcess]],
    client_of: Callable[[str], openai.AsyncOpenAI],
) -> None:
    """Three slow PDFs, each stopped by one kind of delete: the store, the file, the file's
    membership of the store. Each extraction child must end (on the old code extraction ran
    in a server thread that nothing could stop)."""
    engine = await start_engine(INGEST_EXTRACTION_SECONDS="600", INGEST_CONCURRENCY="1")
    assert engine.process is not None
    pid = engine.process.pid
    client = client_of(engine.url)
    slow = pdf_with_shared_stream()

    async def wait_for(condition: Callable[[], bool], what: str) -> None:
        for _ in range(1200):  # a readiness wait of up to ~2 min on a loaded machine
            if condition():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(what)

    deletes = {
        "store": lambda store, file: client.vector_stores.delete(store),
        "file": lambda store, file: client.files.delete(file),
        "store file": lambda store, file: client.vector_stores.files.delete(
            file, vector_store_id=store
        ),
    }
    for kind, delete in deletes.items():
        file_id = await upload(client, f"slow-{kind}.pdf", slow)
        store = await client.vector_stores.create(file_ids=[file_id])
        await wait_for(lambda: bool(busy_children(pid)), "no extraction process started")
        working = busy_children(pid)
        await delete(store.id, file_id)
        await wait_for(lambda w=working: not (extraction_children(pid) & w), f"{kind}: still runs")
    # The server still ingests.
    fine = await upload(client, "fine.txt", b"Lanterns hang along the pier.")
    store = await client.vector_stores.create(file_ids=[fine])
    for _ in range(1200):
        store = await client.vector_stores.retrieve(store.id)
        if store.status != "in_progress":
            break
        await asyncio.sleep(0.1)
    assert store.file_counts.completed == 1, store.file_counts


async def test_a_file_needing_more_memory_than_the_limit_fails_naming_it() -> None:
    from openai_assistant_mcp.engine.vectors.extraction import ExtractionLimits, extract_chunks

    with pytest.raises(ExtractionError) as raised:
        await extract_chunks("big.html", big_html(12 * MIB), 800, 400, ExtractionLimits(256, 600))
    assert raised.value.code == "invalid_file"
    assert "256 MiB" in raised.value.message
    assert "INGEST_EXTRACTION_MEMORY_MB" in raised.value.message


def test_a_docx_expanding_out_of_proportion_is_refused_before_parsing() -> None:
    """20 MiB of XML in ~70 KB: under the absolute cap, refused by the ratio (parsing it would
    cost lxml hundreds of MB)."""
    bomb = docx_with_xml(20 * MIB)
    with pytest.raises(ExtractionError) as raised:
        extract_text("ratio.docx", bomb)
    assert raised.value.code == "invalid_file"
    assert "-fold" in raised.value.message and "at most 100-fold" in raised.value.message


async def test_ordinary_documents_extract_in_children() -> None:
    from openai_assistant_mcp.engine.vectors.extraction import ExtractionLimits, extract_chunks

    page = b"<html><body><h1>Notes</h1><p>The kettle whistles at dawn.</p></body></html>"
    chunks = await extract_chunks("notes.html", page, 800, 400, ExtractionLimits(512, 60))
    text = "Notes\nThe kettle whistles at dawn."
    assert chunks == [(text, count_tokens(text))]


async def test_plain_text_past_a_mebibyte_is_chunked_in_a_child_too() -> None:
    """Small plain text is chunked in a server thread (no parser; a child would cost more);
    past IN_SERVER_TEXT_BYTES it goes to a child, under the child's memory limit: 128 MiB is
    below what the child already maps, so there it fails, naming the limit."""
    from openai_assistant_mcp.engine.vectors.extraction import (
        IN_SERVER_TEXT_BYTES,
        ExtractionLimits,
        extract_chunks,
    )

    line = b"The tide tables are pinned beside the barometer.\n"
    small = line * (IN_SERVER_TEXT_BYTES // len(line))
    big = small + line * 2
    starved = ExtractionLimits(128, 60)
    assert await extract_chunks("small.txt", small, 800, 400, starved)  # never in a child
    with pytest.raises(ExtractionError) as raised:
        await extract_chunks("big.txt", big, 800, 400, starved)
    assert "128 MiB" in raised.value.message
    chunks = await extract_chunks("big.txt", big, 800, 400, ExtractionLimits(1024, 60))
    assert sum(tokens for _, tokens in chunks) >= count_tokens(big.decode())


async def test_a_warm_child_takes_the_next_files_and_a_killed_one_is_replaced() -> None:
    """Children are kept warm between files (a fork per file cost 20-40 ms here); one killed
    at the deadline is never reused, and the next file still gets a child."""
    from openai_assistant_mcp.engine.vectors.extraction import ExtractionLimits, extract_chunks

    before = extraction_children(os.getpid())
    limits = ExtractionLimits(512, 60)
    for index in range(5):
        page = f"<p>Page {index} of the ship's log.</p>".encode()
        assert await extract_chunks("log.html", page, 800, 400, limits)
    assert len(extraction_children(os.getpid()) - before) <= 1  # one child took all five

    spent = {pid: cpu_seconds(pid) for pid in extraction_children(os.getpid())}
    slow = pdf_with_shared_stream()
    task = asyncio.create_task(extract_chunks("slow.pdf", slow, 800, 400, ExtractionLimits(512, 5)))
    parsing: set[int] = set()
    while not task.done():  # the child that parses it: the one whose CPU time grows
        for pid in extraction_children(os.getpid()):
            if cpu_seconds(pid) - spent.get(pid, 0.0) > 0.1:
                parsing.add(pid)
        await asyncio.sleep(0.05)
    with pytest.raises(ExtractionError) as raised:
        await task
    assert "INGEST_EXTRACTION_SECONDS" in raised.value.message
    assert parsing and not parsing & extraction_children(os.getpid())  # killed, not kept
    assert await extract_chunks("log.html", b"<p>Still working.</p>", 800, 400, limits)


async def test_a_warm_child_dead_while_idle_costs_the_next_file_nothing() -> None:
    """A warm child killed while idle (here by us; in life the OOM killer's pick or an
    operator) is taken before the zygote reports its exit: the next file is tried once more
    in a fresh child instead of failing with server_error."""
    from openai_assistant_mcp.engine.vectors.extraction import (
        CHILDREN,
        ExtractionLimits,
        extract_chunks,
    )

    limits = ExtractionLimits(512, 60)
    for index in range(3):
        assert await extract_chunks("warm.html", b"<p>Warm up.</p>", 800, 400, limits)
        idle = [child.pid for child in CHILDREN._idle]
        assert idle  # kept warm
        for pid in idle:
            os.kill(pid, signal.SIGKILL)
        page = f"<p>Entry {index}: the barometer fell overnight.</p>".encode()
        chunks = await extract_chunks("next.html", page, 800, 400, limits)
        assert chunks[0][0] == f"Entry {index}: the barometer fell overnight."
