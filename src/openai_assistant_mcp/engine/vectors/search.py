"""Hybrid retrieval: keyword (BM25 / ts_rank) and vector rankings, fused by weighted
reciprocal rank fusion (fusion.py), scores normalised to 0-1; the `rewrite_query` rewrite and
the rankers."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from ..settings import EngineSettings
from ..store import vector_chunks as repo
from ..store.database import Database
from .embedders import Embedder, EmbeddingUnavailable
from .fusion import Hit, Rankings, by_similarity, fuse

DEPTH = 50  # candidates taken from each ranking
MAX_TERMS = 64
EXACT_VECTOR_CHUNKS = 20_000  # PostgreSQL: stores this small beside bigger ones, ranked exactly
# About how many chunks the keyword ranking scores: the rarest query terms are looked for
# everywhere until their expected matches reach the larger of these; the others only add to
# the scores of those chunks (scoring every chunk that holds some common word cost 144 ms at
# 100k chunks). Measured (bench/RESULTS.md): on SQLite (BM25) 2% of a store cost keyword-only
# recall@5 0.83 -> 0.58 on docstrings, 10% 0.83 -> 0.81, for 37 vs 51 ms at 100k chunks under
# load. PostgreSQL's ts_rank has no idf, so more candidates help it less: 5% kept its recall
# (0.70 vs 0.71 at 10%) at 15 instead of 37 ms at 100k chunks.
KEYWORD_BUDGET = 2000
KEYWORD_SHARE = {"sqlite": 0.1, "postgresql": 0.05}  # by database (SQLAlchemy's dialect name)
COMMON = 0.5  # terms in more chunks than this weigh ~0 in BM25 (FTS5 clamps their idf)


# Words too common to rank by: OR-ed into a query they match nearly every chunk, and ranking
# them all cost 60 ms at 10k chunks (PostgreSQL's 'english' configuration drops them too).
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have if in into is it its of on or such that "
    "the their then there these they this to was were will with which who whom what when "
    "where why how do does did not no can could should would may might must shall been being "
    "than so also any all each other some only own same too very".split()
)


# What `rewrite_query` leaves out besides the stopwords: the asking, not the subject.
QUESTION_WORDS = frozenset(
    "please tell me show give find explain describe list i we you my our your us know want "
    "need about is are there any".split()
)


def rewrite(query: str) -> str:
    """`rewrite_query`: the query's content words, lower case, in order (question words,
    stopwords and punctuation left out); the query itself if nothing is left."""
    words = [w for w in re.findall(r"\w+", query.lower()) if w not in STOPWORDS]
    kept = [w for w in words if w not in QUESTION_WORDS]
    return " ".join(kept) or query.strip()


def query_terms(query: str) -> list[str]:
    """Distinct lower-case words of a query (what the keyword indexes match), stopwords left
    out, at most 64."""
    seen: dict[str, None] = {}
    for word in re.findall(r"\w+", query.lower()):
        if word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


# --- exact vector search on cached matrices ------------------------------------------------


class _VectorCache:
    """Each store's embeddings as one float32 matrix, kept while the store's `generation`
    is unchanged (bounded to the most recently searched stores)."""

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[int, np.ndarray, np.ndarray, np.ndarray]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    async def get(
        self, conn: AsyncConnection, store_id: str, generation: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with self._lock:
            entry = self._entries.get(store_id)
            if entry is not None and entry[0] == generation:
                self._entries.move_to_end(store_id)
                return entry[1], entry[2], entry[3]
        ids, file_ids, matrix = await repo.store_vectors(conn, store_id)
        files = np.asarray(file_ids, dtype=object)
        with self._lock:
            self._entries[store_id] = (generation, ids, files, matrix)
            self._entries.move_to_end(store_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return ids, files, matrix


VECTOR_CACHE = _VectorCache()


def limit_blas_threads() -> None:
    """One BLAS thread for the process. Why: a query's matrix-vector product is bound by
    memory, not cores, and OpenBLAS's extra threads spin after each call, taking the cores
    from the event loop and the query embedding (hybrid p50 at 100k chunks 52 -> 42 ms)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


# Applied when the first search loads this module (and numpy with it), not at the engine's
# start: numpy stays off the start path of a server that never searches.
limit_blas_threads()


def _top(ids: np.ndarray, scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    if len(scores) == 0:
        return []
    if len(scores) > limit:
        part = np.argpartition(-scores, limit - 1)[:limit]
    else:
        part = np.arange(len(scores))
    order = part[np.argsort(-scores[part])]
    return [(int(ids[i]), float(scores[i])) for i in order]


async def exact_vector_search(
    conn: AsyncConnection,
    stores: dict[str, int],
    vector: np.ndarray,
    limit: int,
    file_ids: set[str] | None,
) -> list[tuple[int, float]]:
    """Cosine similarity over every chunk of the stores ({id: generation}), best first."""
    found: list[tuple[int, float]] = []
    for store_id, generation in stores.items():
        ids, files, matrix = await VECTOR_CACHE.get(conn, store_id, generation)
        if matrix.size == 0 or matrix.shape[1] != vector.shape[0]:
            continue
        scores = matrix @ vector
        if file_ids is not None:
            mask = np.isin(files, list(file_ids))
            ids, scores = ids[mask], scores[mask]
        found += _top(ids, scores, limit)
    found.sort(key=lambda item: -item[1])
    return found[:limit]


@dataclass(frozen=True)
class StoreForSearch:
    id: str
    embedding: dict[str, Any]
    generation: int


# --- keyword ranking ----------------------------------------------------------------------


class _StoreSamples:
    """Each store's (chunks, first and last chunk ID of the sample that estimates term
    frequencies on SQLite), kept while the store's `generation` is unchanged."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[int, tuple[int, int, int]]] = OrderedDict()

    async def get(self, conn: AsyncConnection, store: StoreForSearch) -> tuple[int, int, int]:
        entry = self._entries.get(store.id)
        if entry is not None and entry[0] == store.generation:
            return entry[1]
        sample = await repo.keyword_sample(conn, store.id)
        self._entries[store.id] = (store.generation, sample)
        self._entries.move_to_end(store.id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return sample


STORE_SAMPLES = _StoreSamples()


def choose_terms(
    frequencies: dict[str, float], chunks: int, share: float = KEYWORD_SHARE["sqlite"]
) -> tuple[list[str], list[str]]:
    """(required, optional) terms: the rarest, looked for everywhere, until their expected
    matches reach the budget; the rest score only the chunks those find. Terms in over half
    the chunks are dropped (BM25 weighs them ~0) unless nothing else is left."""
    budget = max(KEYWORD_BUDGET, share * chunks)
    order = sorted(frequencies, key=frequencies.__getitem__)
    informative = [term for term in order if frequencies[term] <= COMMON] or order[:1]
    required: list[str] = []
    expected = 0.0
    for term in informative:
        matches = frequencies[term] * chunks
        if required and expected + matches > budget:
            break
        required.append(term)
        expected += matches
    return required, informative[len(required) :]


async def keyword_ranking(
    conn: AsyncConnection,
    stores: Sequence[StoreForSearch],
    query: str,
    limit: int,
    file_ids: set[str] | None,
) -> list[int]:
    """Chunk IDs best first by BM25 / ts_rank over the query's informative terms."""
    terms = query_terms(query)
    if not terms:
        return []
    samples = {store.id: await STORE_SAMPLES.get(conn, store) for store in stores}
    frequencies = await repo.term_frequencies(conn, samples, terms)
    chunks = sum(sample[0] for sample in samples.values())
    share = KEYWORD_SHARE[conn.dialect.name]
    required, optional = choose_terms(frequencies, chunks, share)
    store_ids = [store.id for store in stores]
    most_chunks = False
    if conn.dialect.name == "postgresql":
        most_chunks = chunks >= 0.5 * await repo.estimated_chunks(conn)
    return await repo.keyword_search(
        conn, store_ids, required, optional, limit, file_ids, most_chunks=most_chunks
    )


# --- query embeddings ----------------------------------------------------------------------


class _QueryVectors:
    """The local model's recent query embeddings (a repeated query costs no inference)."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        # (model, dimensions, query text) -> its embedding
        self._entries: OrderedDict[tuple[Any, Any, str], np.ndarray] = OrderedDict()

    async def embed(self, embedder: Embedder, text: str, api_key: str | None) -> np.ndarray:
        if embedder.mode != "local":  # provider answers depend on the caller's key
            return await embedder.query(text, api_key)
        key = (embedder.record.get("model"), embedder.record.get("dimensions"), text)
        vector = self._entries.get(key)
        if vector is None:
            vector = await embedder.query(text, api_key)
            self._entries[key] = vector
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        return vector

    def clear(self) -> None:
        self._entries.clear()


QUERY_VECTORS = _QueryVectors()


async def _embed_queries(
    groups: list[list[StoreForSearch]],
    queries: list[str],
    settings: EngineSettings,
    api_key: str | None,
) -> list[tuple[list[StoreForSearch], np.ndarray]]:
    out = []
    for group in groups:
        embedder = Embedder(group[0].embedding, settings)
        for text in queries:
            try:
                out.append((group, await QUERY_VECTORS.embed(embedder, text, api_key)))
            except EmbeddingUnavailable:
                break  # this group searches by keyword only
    return out


async def _keyword_rankings(
    db: Database, stores: Sequence[StoreForSearch], queries: list[str], file_ids: set[str] | None
) -> list[list[int]]:
    async with db.read() as conn:
        return [await keyword_ranking(conn, stores, text, DEPTH, file_ids) for text in queries]


async def _exact_on_postgres(conn: AsyncConnection, group: list[StoreForSearch]) -> bool:
    """Whether to rank the stores' chunks exactly rather than through the HNSW index: when
    they are few (<= 20,000) and under half of all chunks. The index spans every store and
    its neighbours are filtered to these stores afterwards: a 10k-chunk store beside a 100k
    one got 28% of its true top 50 in 33-44 ms that way, all of it exactly in 24-31 ms."""
    chunks = sum([(await STORE_SAMPLES.get(conn, store))[0] for store in group])
    if chunks > EXACT_VECTOR_CHUNKS:
        return False
    everything = await repo.estimated_chunks(conn)  # -1: never analyzed (a new table)
    return everything < 0 or chunks < 0.5 * everything


async def _vector_rankings(
    db: Database,
    settings: EngineSettings,
    groups: list[list[StoreForSearch]],
    queries: list[str],
    api_key: str | None,
    file_ids: set[str] | None,
    pgvector: bool,
) -> list[list[tuple[int, float]]]:
    """Each (store group, query)'s (chunk id, cosine similarity) best first; none for groups
    whose embeddings are unavailable."""
    query_vectors = await _embed_queries(groups, queries, settings, api_key)
    if not query_vectors:
        return []
    scored = []
    async with db.read() as conn:
        for group, query_vector in query_vectors:
            if pgvector:
                dims, ids = int(query_vector.shape[0]), [s.id for s in group]
                exact = await _exact_on_postgres(conn, group)
                found = await repo.pgvector_search(
                    conn, ids, dims, query_vector, DEPTH, file_ids, exact=exact
                )
            else:
                generations = {s.id: s.generation for s in group}
                found = await exact_vector_search(conn, generations, query_vector, DEPTH, file_ids)
            scored.append(found)
    return scored


# --- the fused search ----------------------------------------------------------------------

# `ranking_options.ranker`: these fuse the keyword and vector rankings (RRF); `none` turns
# the fusion off and answers from one ranking (see `hybrid`).
FUSING_RANKERS = ("auto", "default-2024-11-15", "default_2024_08_21")


async def rankings(
    db: Database,
    settings: EngineSettings,
    stores: Sequence[StoreForSearch],
    queries: list[str],
    *,
    file_ids: set[str] | None,
    api_key: str | None,
    pgvector: bool,
    keyword: bool = True,
    vector: bool = True,
) -> Rankings:
    """Both sides' rankings, side by side, each on its own connection: the vector side's
    query embedding (a thread, or the provider) and then its ranking overlap the keyword
    ranking in the database, so a search costs the longer side rather than the sum of both."""
    groups: dict[tuple[Any, ...], list[StoreForSearch]] = {}
    for store in stores:
        record = store.embedding
        if vector and record.get("mode") in ("local", "provider") and record.get("dimensions"):
            key = (record["mode"], record.get("model"), record["dimensions"])
            groups.setdefault(key, []).append(store)
    vector_side = asyncio.ensure_future(
        _vector_rankings(db, settings, list(groups.values()), queries, api_key, file_ids, pgvector)
    )
    try:
        found: list[list[int]] = []
        if keyword:
            found = await _keyword_rankings(db, stores, queries, file_ids)
        scored = await vector_side
    finally:
        vector_side.cancel()  # done by now, unless the keyword side failed: its error answers
    return Rankings(found, scored)


async def hybrid(
    db: Database,
    settings: EngineSettings,
    stores: Sequence[StoreForSearch],
    queries: list[str],
    *,
    limit: int,
    file_ids: set[str] | None,
    api_key: str | None,
    pgvector: bool,
    keyword: bool = True,
    vector: bool = True,
    ranker: str = "auto",
) -> list[Hit]:
    """The ranking of chunks for `queries` over `stores`, scores in 0-1. Fused (every ranker
    but `none`): see `fuse`. `none`: the vector ranking alone, scored by cosine similarity,
    where the stores have vectors (no keyword query: faster), else the keyword ranking alone."""
    fusing = ranker != "none"
    found = await rankings(
        db,
        settings,
        stores,
        queries,
        file_ids=file_ids,
        api_key=api_key,
        pgvector=pgvector,
        keyword=keyword and fusing,
        vector=vector,
    )
    if not fusing:
        if found.vector:
            return by_similarity(found.vector, limit)
        if keyword:
            found.keyword = await _keyword_rankings(db, stores, queries, file_ids)
    return fuse(found, limit)
