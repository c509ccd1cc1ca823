"""Embeddings in three modes, recorded per vector store so its vectors are never mixed:
the provider's /v1/embeddings, a bundled local model (local_models.py: MiniLM by default, or
e5), or none (keyword-only). Local passages go through a batcher shared by the files in flight."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from . import local_models

if TYPE_CHECKING:
    import numpy as np  # imported where used: it costs start-up time

    from ..settings import EngineSettings


log = logging.getLogger(__name__)

LOCAL_MODEL = local_models.MINILM  # the default for new stores (LOCAL_EMBEDDING_MODEL)
LOCAL_DIMENSIONS = local_models.DIMENSIONS
PROVIDER_BATCH = 64  # inputs per /v1/embeddings request
# Passages per local model call, taken across the files in flight. MiniLM: 16 chunks, ~1.3
# CPU-s, and a query never waits for it (it runs beside). e5: 1, as a query waits for the
# call under way (~2 CPU-s per 800-token passage).
LOCAL_BATCH = {local_models.MINILM: 16, local_models.E5: 1}
PASSAGE_NICENESS = 10  # added to the passage threads' niceness (see _yield_to_requests)


class EmbeddingUnavailable(Exception):
    """The store's embedding mode cannot run here (no key, no provider, no local model)."""


def choose_mode(settings: EngineSettings) -> dict[str, Any]:
    """The embedding record for a new vector store, from the settings."""
    if settings.embeddings_base_url:
        return {
            "mode": "provider",
            "model": settings.embedding_model,
            "dimensions": settings.embedding_dimensions,
        }
    model = settings.local_embedding_model
    if settings.local_embeddings and local_models.available(model):
        return {"mode": "local", "model": model, "dimensions": LOCAL_DIMENSIONS}
    return {"mode": "none", "model": None, "dimensions": None}


def local_available() -> bool:
    return local_models.available(LOCAL_MODEL)


def _cores(settings: EngineSettings) -> int:
    """Local passage batches embedded at once: LOCAL_EMBEDDING_THREADS, 0 = one per core."""
    if settings.local_embedding_threads:
        return settings.local_embedding_threads
    if hasattr(os, "sched_getaffinity"):  # the cores this process may use, not the machine's
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _model(name: str, settings: EngineSettings) -> local_models.LocalModel:
    try:
        # e5's own OpenMP threads (its calls are serialised): 1 unless set.
        return local_models.load(name, settings.local_embedding_threads or 1)
    except local_models.LocalModelMissing as exc:
        raise EmbeddingUnavailable(str(exc)) from None


class _Serial:
    """A model with one C handle (e5): calls one at a time, and a query waiting goes before
    the next batch of passages, so a search during an ingestion waits for one batch at most."""

    _turn = threading.Condition()
    _busy = False
    _queries_waiting = 0

    @classmethod
    def embed(cls, model: local_models.LocalModel, texts: list[str], is_query: bool) -> np.ndarray:
        with cls._turn:
            cls._queries_waiting += is_query
            try:
                while cls._busy or (not is_query and cls._queries_waiting):
                    cls._turn.wait()
                cls._busy = True
            finally:
                cls._queries_waiting -= is_query
        try:
            return model.embed(texts, is_query)
        finally:
            with cls._turn:
                cls._busy = False
                cls._turn.notify_all()


def _run(name: str, settings: EngineSettings, texts: list[str], is_query: bool) -> np.ndarray:
    """One model call, in a worker thread (the model loads on first use)."""
    model = _model(name, settings)
    if model.serial:
        return _Serial.embed(model, texts, is_query)
    return model.embed(texts, is_query)


class PassageBatcher:
    """The passages of every file in flight on this event loop, embedded in batches of up to
    LOCAL_BATCH taken across files, as many batches at once as there are cores (one thread
    each; e5: one): the cores stay busy however the files are sized, and a small file's few
    chunks ride with others' rather than costing a model call of their own."""

    def __init__(self, name: str, settings: EngineSettings) -> None:
        self.name = name
        self.settings = settings
        self.batch = LOCAL_BATCH.get(name, 1)
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[np.ndarray]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._threads: ThreadPoolExecutor | None = None

    async def embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, LOCAL_DIMENSIONS), np.float32)
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[np.ndarray]] = [loop.create_future() for _ in texts]
        for text, future in zip(texts, futures, strict=True):
            self._queue.put_nowait((text, future))
        if not self._tasks:
            workers = 1 if self.name == local_models.E5 else _cores(self.settings)
            self._threads = ThreadPoolExecutor(
                workers, thread_name_prefix="embed", initializer=_yield_to_requests
            )
            self._tasks = [
                asyncio.create_task(self._work(), name=f"embed {self.name}") for _ in range(workers)
            ]
        try:
            return np.vstack(await asyncio.gather(*futures))
        finally:
            for future in futures:
                future.cancel()  # a cancelled or failed file's chunks are not embedded

    async def _work(self) -> None:
        while True:
            items = [await self._queue.get()]
            while len(items) < self.batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
            items = [(text, future) for text, future in items if not future.done()]
            if not items:
                continue
            texts = [text for text, _ in items]
            try:
                vectors = await asyncio.get_running_loop().run_in_executor(
                    self._threads, _run, self.name, self.settings, texts, False
                )
            except Exception as exc:  # each waiting file fails with it
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), vector in zip(items, vectors, strict=True):
                if not future.done():
                    future.set_result(vector)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None


def _yield_to_requests() -> None:
    """A passage thread runs at a lower priority than the rest of the process (Linux applies
    `setpriority` to one thread by its id): the event loop and the query embeddings of
    searches get the cores first while a batch is embedded."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not permitted
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PASSAGE_NICENESS)


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, PassageBatcher]] = (
    weakref.WeakKeyDictionary()
)


def batcher(name: str, settings: EngineSettings) -> PassageBatcher:
    """This event loop's batcher for the model."""
    per_loop = _batchers.setdefault(asyncio.get_running_loop(), {})
    if name not in per_loop:
        per_loop[name] = PassageBatcher(name, settings)
    return per_loop[name]


def close_batchers() -> None:
    """Stop this event loop's batchers (the ingestion worker stops)."""
    for found in _batchers.pop(asyncio.get_running_loop(), {}).values():
        found.close()


def _normalise(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = (vectors / norms).astype(np.float32)
    return unit


class Embedder:
    """Embeds passages and queries as a store's record says, with the store's own model."""

    def __init__(self, record: dict[str, Any], settings: EngineSettings) -> None:
        self.record = record
        self.mode = record.get("mode", "none")
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return self.mode in ("local", "provider")

    async def passages(self, texts: list[str], api_key: str | None) -> np.ndarray:
        return await self._embed(texts, is_query=False, api_key=api_key)

    async def query(self, text: str, api_key: str | None) -> np.ndarray:
        vectors = await self._embed([text], is_query=True, api_key=api_key)
        vector: np.ndarray = vectors[0]
        return vector

    async def _embed(self, texts: list[str], *, is_query: bool, api_key: str | None) -> np.ndarray:

        if self.mode == "local":
            name = self.record.get("model") or local_models.E5  # records before the choice
            if not is_query:
                return await batcher(name, self.settings).embed(texts)
            return await asyncio.to_thread(_run, name, self.settings, texts, True)
        if self.mode == "provider":
            return await self._provider(texts, api_key)
        raise EmbeddingUnavailable("this vector store is keyword-only")

    async def _provider(self, texts: list[str], api_key: str | None) -> np.ndarray:
        import numpy as np
        import openai

        base_url = self.settings.embeddings_base_url
        if not base_url:
            raise EmbeddingUnavailable("EMBEDDINGS_BASE_URL is no longer set")
        # A keyless caller (the default tenant) may use a provider that needs no key.
        key = api_key or server_key(self.settings) or "unused"
        client = openai.AsyncOpenAI(
            base_url=base_url, api_key=key, timeout=self.settings.provider_timeout, max_retries=2
        )
        dims = self.record.get("dimensions")
        extra = {"dimensions": dims} if dims and self.settings.embedding_dimensions else {}
        out: list[list[float]] = []
        try:
            for i in range(0, len(texts), PROVIDER_BATCH):
                batch = texts[i : i + PROVIDER_BATCH]
                answer = await client.embeddings.create(
                    model=self.record["model"], input=batch, **extra
                )
                rows = sorted(answer.data, key=lambda item: item.index)
                out += [list(row.embedding) for row in rows]
        finally:
            await client.close()
        vectors = np.asarray(out, dtype=np.float32)
        if dims and vectors.shape[1] != dims:
            raise EmbeddingUnavailable(
                f"the provider answered {vectors.shape[1]} dimensions; this store uses {dims}"
            )
        return _normalise(vectors)


def server_key(settings: EngineSettings) -> str | None:
    """The server's own key for provider embeddings, if it has one."""
    value = settings.embeddings_api_key or settings.provider_api_key
    return value.get_secret_value() if value is not None else None
