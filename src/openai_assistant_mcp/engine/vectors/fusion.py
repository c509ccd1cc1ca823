"""How the keyword and vector rankings become one: weighted reciprocal rank fusion, tuned so
that hybrid search is never worse than the better of its two halves (bench/RESULTS.md, "Local
embeddings and fusion")."""

from __future__ import annotations

from dataclasses import dataclass

# Reciprocal rank fusion (Cormack et al. 2009) is 1/(k + rank) summed over the rankings. The
# usual k = 60 is flat at the top: first in one ranking and fifth in the other beat second in
# both by a hair, so one side's neighbours outranked the other side's clear first (man pages,
# questions: hybrid MRR 0.840 under vector-only 0.858). k = 1 makes the top ranks count, and
# the vector side weighs a little more, which settles ties (first in one ranking, second in
# the other) its way. Tuned on two corpora x two query kinds (docstrings, man pages; short
# keyword-like queries and questions) x both local models: with k = 1 and weight 1.2 hybrid
# R@1 and MRR were >= the better side's in all 16 cells (k = 60 lost up to 0.025; k = 3 with
# 1.1 lost 0.008 R@1 on e5's docstring short queries). bench/bench_retrieval.py re-fuses its
# cached rankings to try others.
RRF_K = 1
KEYWORD_WEIGHT = 1.0
VECTOR_WEIGHT = 1.2


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float


@dataclass
class Rankings:
    """Each query's keyword ranking (chunk IDs best first) and each (store group, query)'s
    vector ranking ((chunk ID, cosine similarity) best first)."""

    keyword: list[list[int]]
    vector: list[list[tuple[int, float]]]


def fuse(found: Rankings, limit: int) -> list[Hit]:
    """Weighted RRF over every ranking, divided by its largest possible value (first in every
    ranking), so scores lie in 0-1 and a chunk first everywhere scores 1."""
    weighted = [(KEYWORD_WEIGHT, ranking) for ranking in found.keyword] + [
        (VECTOR_WEIGHT, [chunk_id for chunk_id, _ in scored]) for scored in found.vector
    ]
    if not weighted:
        return []
    fused: dict[int, float] = {}
    for weight, ranking in weighted:
        for rank, chunk_id in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (RRF_K + rank)
    best_possible = sum(weight for weight, _ in weighted) / (RRF_K + 1)
    ordered = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [Hit(chunk_id, min(1.0, score / best_possible)) for chunk_id, score in ordered]


def by_similarity(scored: list[list[tuple[int, float]]], limit: int) -> list[Hit]:
    """The vector rankings alone, scored by cosine similarity (clipped to 0-1)."""
    best: dict[int, float] = {}
    for found in scored:
        for chunk_id, similarity in found:
            best[chunk_id] = max(best.get(chunk_id, -1.0), similarity)
    ordered = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [Hit(chunk_id, min(1.0, max(0.0, sim))) for chunk_id, sim in ordered]
