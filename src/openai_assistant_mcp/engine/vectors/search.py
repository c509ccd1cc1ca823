"""Hybrid retrieval: keyword (BM25 / ts_rank) and vector rankings fused by reciprocal rank
fusion, scores normalised to 0-1; attribute filters evaluated on the stores' files."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from ..store import vector_repository as repo
from .embedders import Embedder, EmbeddingUnavailable

RRF_K = 60  # the usual constant of reciprocal rank fusion (Cormack et al. 2009)
DEPTH = 50  # candidates taken from each ranking
MAX_TERMS = 64


# Words too common to rank by: OR-ed into a query they match nearly every chunk, and ranking
# them all cost 60 ms at 10k chunks (PostgreSQL's 'english' configuration drops them too).
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have if in into is it its of on or such that "
    "the their then there these they this to was were will with which who whom what when "
    "where why how do does did not no can could should would may might must shall been being "
    "than so also any all each other some only own same too very".split()
)


def query_terms(query: str) -> list[str]:
    """Distinct lower-case words of a query (what the keyword indexes match), stopwords left
    out, at most 64."""
    seen: dict[str, None] = {}
    for word in re.findall(r"\w+", query.lower()):
        if word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


# --- filters on file attributes ----------------------------------------------------------------


def matches(filters: dict[str, Any], attributes: dict[str, Any]) -> bool:
    """Whether attributes pass a ComparisonFilter or CompoundFilter (OpenAI's semantics: a
    missing key fails every comparison)."""
    kind = filters.get("type")
    if kind in ("and", "or"):
        results = (matches(item, attributes) for item in filters.get("filters", []))
        return all(results) if kind == "and" else any(results)
    key, value = filters.get("key"), filters.get("value")
    if key not in attributes:
        return False
    actual = attributes[key]
    if kind == "eq":
        return actual == value
    if kind == "ne":
        return actual != value
    if kind in ("in", "nin"):
        inside = isinstance(value, list) and actual in value
        return inside if kind == "in" else not inside
    if isinstance(actual, bool) or isinstance(value, bool):
        return False  # booleans are not ordered
    both_numbers = isinstance(actual, int | float) and isinstance(value, int | float)
    both_strings = isinstance(actual, str) and isinstance(value, str)
    if not (both_numbers or both_strings):
        return False
    return {
        "gt": actual > value,
        "gte": actual >= value,
        "lt": actual < value,
        "lte": actual <= value,
    }.get(kind, False)


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


# --- the fused search ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoreForSearch:
    id: str
    embedding: dict[str, Any]
    generation: int


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float


async def hybrid(
    db: Any,
    settings: Any,
    stores: Sequence[StoreForSearch],
    queries: list[str],
    *,
    limit: int,
    file_ids: set[str] | None,
    api_key: str | None,
    pgvector: bool,
    keyword: bool = True,
    vector: bool = True,
) -> list[Hit]:
    """The fused ranking of chunks for `queries` over `stores`, scores in 0-1: a chunk first
    in every ranking scores 1 (RRF divided by its largest possible value)."""
    store_ids = [store.id for store in stores]
    groups: dict[tuple, list[StoreForSearch]] = {}
    for store in stores:
        record = store.embedding
        if vector and record.get("mode") in ("local", "provider") and record.get("dimensions"):
            key = (record["mode"], record.get("model"), record["dimensions"])
            groups.setdefault(key, []).append(store)
    query_vectors: list[tuple[list[StoreForSearch], np.ndarray]] = []
    for group in groups.values():
        embedder = Embedder(group[0].embedding, settings)
        for text in queries:
            try:
                query_vectors.append((group, await embedder.query(text, api_key)))
            except EmbeddingUnavailable:
                break  # this group searches by keyword only
    rankings: list[list[int]] = []
    async with db.read() as conn:
        for text in queries if keyword else []:
            rankings.append(
                await repo.keyword_search(conn, store_ids, query_terms(text), DEPTH, file_ids)
            )
        by_group: dict[int, list[tuple[int, float]]] = {}
        for index, (group, query_vector) in enumerate(query_vectors):
            if pgvector:
                dims = int(query_vector.shape[0])
                ids = [s.id for s in group]
                found = await repo.pgvector_search(conn, ids, dims, query_vector, DEPTH, file_ids)
            else:
                generations = {s.id: s.generation for s in group}
                found = await exact_vector_search(conn, generations, query_vector, DEPTH, file_ids)
            by_group[index] = found
    rankings += [[chunk_id for chunk_id, _ in found] for found in by_group.values()]
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    if not rankings:
        return []
    best_possible = len(rankings) / (RRF_K + 1)
    ordered = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [Hit(chunk_id, min(1.0, score / best_possible)) for chunk_id, score in ordered]
