"""Vector store chunks' SQL: writing a file's chunks (and vectors), reading them back, and the
keyword (SQLite FTS5 / PostgreSQL GIN) and vector (pgvector HNSW, or rows for the engine's
numpy search) rankings."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from . import vector_tables as vt

if TYPE_CHECKING:
    import numpy as np  # imported where used: it costs start-up time

CHUNKS = vt.vector_store_chunks
FTS = "vector_store_chunks_fts"
SAMPLE_CHUNKS = 1000  # chunks of a store whose terms estimate how common a term is (SQLite)


async def has_pgvector(conn: AsyncConnection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    query = text(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_name = 'vector_store_chunks' AND column_name = 'vec'"
    )
    return (await conn.execute(query)).first() is not None


async def ensure_hnsw_index(conn: AsyncConnection, dims: int) -> None:
    """An HNSW index for the chunks of `dims` dimensions (one per dimension in use)."""
    dims = int(dims)
    name = f"ix_vector_store_chunks_hnsw_{dims}"
    exists = text("SELECT 1 FROM pg_indexes WHERE indexname = :name")
    if (await conn.execute(exists, {"name": name})).first() is not None:
        return
    # Two processes (or two files of one) storing the first vectors of a size at once: without
    # the lock, one CREATE INDEX IF NOT EXISTS fails on the catalog's unique index.
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x76656300 + dims})
    await conn.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS ix_vector_store_chunks_hnsw_{dims} "
            f"ON vector_store_chunks USING hnsw ((vec::vector({dims})) vector_cosine_ops) "
            f"WHERE dims = {dims}"
        )
    )


def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"


async def replace_file_chunks(
    conn: AsyncConnection,
    store_id: str,
    file_id: str,
    chunks: list[tuple[str, int]],
    vectors: np.ndarray | None,
    *,
    pgvector: bool,
) -> None:
    """The file's chunks (text, tokens) and vectors, replacing any earlier ones: a file taken
    over after a crash is written whole again, never twice."""
    await delete_file_chunks(conn, store_id, file_id)
    if not chunks:
        return
    dims = int(vectors.shape[1]) if vectors is not None else None
    rows = []
    for position, (chunk_text, tokens) in enumerate(chunks):
        row: dict[str, Any] = {
            "vector_store_id": store_id,
            "file_id": file_id,
            "position": position,
            "tokens": tokens,
            "text": chunk_text,
            "dims": dims,
            "embedding": None,
        }
        if vectors is not None:
            if pgvector:
                row["vec"] = _vector_literal(vectors[position])
            else:
                row["embedding"] = vectors[position].astype("<f4").tobytes()
        rows.append(row)
    if pgvector and vectors is not None:
        await conn.execute(
            text(
                "INSERT INTO vector_store_chunks "
                "(vector_store_id, file_id, position, tokens, text, dims, embedding, vec) "
                "VALUES (:vector_store_id, :file_id, :position, :tokens, :text, :dims, "
                ":embedding, CAST(:vec AS vector))"
            ),
            rows,
        )
    else:
        await conn.execute(insert(CHUNKS), rows)


async def delete_file_chunks(conn: AsyncConnection, store_id: str, file_id: str) -> None:
    await conn.execute(
        delete(CHUNKS).where(CHUNKS.c.vector_store_id == store_id, CHUNKS.c.file_id == file_id)
    )


async def file_chunk_texts(conn: AsyncConnection, store_id: str, file_id: str) -> list[str]:
    query = (
        select(CHUNKS.c.text)
        .where(CHUNKS.c.vector_store_id == store_id, CHUNKS.c.file_id == file_id)
        .order_by(CHUNKS.c.position)
    )
    return list((await conn.execute(query)).scalars())


async def chunk_details(
    conn: AsyncConnection, tenant: str, ids: list[int]
) -> dict[int, tuple[str, str, str, dict[str, Any], str]]:
    """{chunk id: (store_id, file_id, text, the file's attributes in that store, filename)},
    in one query (a search's results)."""
    from .tables import files

    if not ids:
        return {}
    store_file = vt.vector_store_files
    joined = CHUNKS.outerjoin(
        store_file,
        (store_file.c.vector_store_id == CHUNKS.c.vector_store_id)
        & (store_file.c.id == CHUNKS.c.file_id),
    ).outerjoin(files, (files.c.id == CHUNKS.c.file_id) & (files.c.tenant == tenant))
    query = (
        select(
            CHUNKS.c.id,
            CHUNKS.c.vector_store_id,
            CHUNKS.c.file_id,
            CHUNKS.c.text,
            store_file.c.body,
            files.c.body,
        )
        .select_from(joined)
        .where(CHUNKS.c.id.in_(ids))
    )
    out = {}
    for chunk_id, store_id, file_id, chunk_text, store_file_body, file_body in await conn.execute(
        query
    ):
        attributes = (store_file_body or {}).get("attributes") or {}
        filename = (file_body or {}).get("filename", file_id)
        out[int(chunk_id)] = (store_id, file_id, chunk_text, attributes, filename)
    return out


# --- keyword ranking ------------------------------------------------------------------------


def _fts_string(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _tsquery_string(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _fts_stores(store_ids: Sequence[str]) -> str:
    """An FTS5 filter on the `vector_store_id` column: each ID's random part (after the
    prefix) is one token there."""
    tokens = " OR ".join(_fts_string(store_id.rsplit("_", 1)[-1]) for store_id in store_ids)
    return f"vector_store_id : ({tokens})"


def _fts_terms(terms: Sequence[str]) -> str:
    return "text : (" + " OR ".join(_fts_string(term) for term in terms) + ")"


async def keyword_sample(conn: AsyncConnection, store_id: str) -> tuple[int, int, int]:
    """(chunks in the store, first and last chunk ID of a sample of its first chunks) for
    estimating term frequencies; PostgreSQL needs no sample (its column statistics say)."""
    count = select(func.count()).select_from(CHUNKS).where(CHUNKS.c.vector_store_id == store_id)
    chunks = int((await conn.execute(count)).scalar_one())
    if conn.dialect.name != "sqlite" or chunks == 0:
        return chunks, 0, 0
    ids = text(
        f"SELECT min(rowid), max(rowid) FROM (SELECT rowid FROM {FTS} WHERE {FTS} MATCH :q "
        "ORDER BY rowid LIMIT :n)"
    )
    row = (await conn.execute(ids, {"q": _fts_stores([store_id]), "n": SAMPLE_CHUNKS})).one()
    return chunks, int(row[0] or 0), int(row[1] or 0)


async def term_frequencies(
    conn: AsyncConnection, samples: dict[str, tuple[int, int, int]], terms: list[str]
) -> dict[str, float]:
    """{term: share of chunks holding it}. SQLite: counted in each store's sample (the FTS5
    index seeks to the sample's rows); PostgreSQL: the query's lexemes (its 'english'
    configuration) with the planner's most-common-element frequencies, 0 for the others."""
    if not terms:
        return {}
    if conn.dialect.name != "sqlite":
        sql = text(
            "SELECT l.lexeme, coalesce(s.freq, 0) FROM "
            "unnest(tsvector_to_array(to_tsvector('english', :q))) AS l(lexeme) LEFT JOIN ("
            "SELECT unnest(most_common_elems::text::text[]) AS lexeme, "
            "unnest(most_common_elem_freqs) AS freq FROM pg_stats "
            "WHERE tablename = 'vector_store_chunks' AND attname = 'tsv') s USING (lexeme)"
        )
        rows = await conn.execute(sql, {"q": " ".join(terms)})
        return {row[0]: float(row[1]) for row in rows if row[0]}
    counts = dict.fromkeys(terms, 0)
    sampled = 0
    for store_id, (chunks, first, last) in samples.items():
        if not chunks:
            continue
        sampled += min(chunks, SAMPLE_CHUNKS)
        parts: list[str] = []
        params: dict[str, int | str] = {"first": first, "last": last}
        for index, term in enumerate(terms):
            params[f"q{index}"] = f"{_fts_stores([store_id])} AND {_fts_terms([term])}"
            parts.append(
                f"SELECT {index}, count(*) FROM {FTS} WHERE {FTS} MATCH :q{index} "
                "AND rowid BETWEEN :first AND :last"
            )
        for index, count in await conn.execute(text(" UNION ALL ".join(parts)), params):
            counts[terms[index]] += int(count)
    return {term: count / sampled if sampled else 0.0 for term, count in counts.items()}


async def keyword_search(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    required: list[str],
    optional: list[str],
    limit: int,
    file_ids: Collection[str] | None = None,
    *,
    most_chunks: bool = False,
) -> list[int]:
    """Chunk IDs best first by BM25 (SQLite FTS5) or ts_rank (PostgreSQL GIN): chunks
    holding one of the `required` terms, scored on those and the `optional` ones (common
    terms, too costly to look for everywhere, but still counted where they occur).
    `most_chunks`: the stores hold most of the table's chunks (PostgreSQL's plan, below)."""
    if not required:
        return []
    params: dict[str, Any] = {"limit": limit}
    file_clause = ""
    if file_ids is not None:
        params["files"] = list(file_ids)
        file_clause = " AND c.file_id IN :files"
    if conn.dialect.name == "sqlite":
        stores = _fts_stores(store_ids)
        params["q"] = f"{stores} AND {_fts_terms(required)}"
        if optional:  # the store filter matches every row: the optional terms only score
            params["q"] += f" AND ({_fts_terms(optional)} OR {stores})"
        rank = f"bm25({FTS}, 1.0, 0.0)"  # the store column weighs nothing
        if file_ids is None:
            sql = f"SELECT rowid FROM {FTS} WHERE {FTS} MATCH :q ORDER BY {rank} LIMIT :limit"
        else:
            sql = (
                f"SELECT c.id FROM {FTS} f JOIN vector_store_chunks c ON c.id = f.rowid "
                f"WHERE {FTS} MATCH :q{file_clause} ORDER BY {rank} LIMIT :limit"
            )
    else:
        params["required"] = " | ".join(_tsquery_string(term) for term in required)
        params["all"] = " | ".join(_tsquery_string(term) for term in [*required, *optional])
        params["stores"] = list(store_ids)
        # The GIN index finds the candidates: the planner's estimate for a few thousand of a
        # store's rows picks a sequential scan, which tests every row's tsvector (35 ms vs 2
        # at 10k chunks). ts_rank, not ts_rank_cd: 8 ms vs 29 on 2,000 candidates.
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        store = "c.vector_store_id"
        if most_chunks:
            # An expression no index covers, so the words' GIN index finds the candidates:
            # the planner otherwise reads every chunk of a store beside a smaller one through
            # the store index (10k chunks: all 10,000 rows, 14-17 ms, for ~1,000 matches).
            store = "(c.vector_store_id || '')"
        sql = (
            "SELECT c.id FROM vector_store_chunks c WHERE c.tsv @@ CAST(:required AS tsquery) "
            f"AND {store} IN :stores{file_clause} "
            "ORDER BY ts_rank(c.tsv, CAST(:all AS tsquery)) DESC LIMIT :limit"
        )
    statement = text(sql)
    if "stores" in params:
        statement = statement.bindparams(bindparam("stores", expanding=True))
    if file_ids is not None:
        statement = statement.bindparams(bindparam("files", expanding=True))
    return [int(row[0]) for row in await conn.execute(statement, params)]


async def pgvector_search(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    dims: int,
    vector: np.ndarray,
    limit: int,
    file_ids: Collection[str] | None = None,
    *,
    exact: bool = False,
) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) best first, through the HNSW index of `dims`, or, with
    `exact`, over every chunk of the stores (found by the store index)."""
    dims = int(dims)
    # (SET LOCAL lasts the transaction: each call sets what it needs.)
    await conn.execute(text(f"SET LOCAL enable_indexscan = {'off' if exact else 'on'}"))
    if not exact:
        await conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        await conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(40, min(1000, limit * 2))}"))
    params: dict[str, Any] = {
        "stores": list(store_ids),
        "q": _vector_literal(vector),
        "limit": limit,
    }
    file_clause = ""
    if file_ids is not None:
        params["files"] = list(file_ids)
        file_clause = " AND file_id IN :files"
    sql = (
        f"SELECT id, (vec::vector({dims})) <=> CAST(:q AS vector({dims})) AS distance "
        f"FROM vector_store_chunks WHERE dims = {dims} AND vector_store_id IN :stores"
        f"{file_clause} ORDER BY distance LIMIT :limit"
    )
    statement = text(sql).bindparams(bindparam("stores", expanding=True))
    if file_ids is not None:
        statement = statement.bindparams(bindparam("files", expanding=True))
    rows = await conn.execute(statement, params)
    return [(int(r[0]), 1.0 - float(r[1])) for r in rows]


async def estimated_chunks(conn: AsyncConnection) -> float:
    """The planner's estimate of the chunks in every store (no scan)."""
    query = text("SELECT reltuples FROM pg_class WHERE relname = 'vector_store_chunks'")
    return float((await conn.execute(query)).scalar() or 0.0)


async def store_vectors(
    conn: AsyncConnection, store_id: str
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(chunk ids, file ids, float32 matrix) of a store's embedded chunks, for exact search."""
    import numpy as np

    query = (
        select(CHUNKS.c.id, CHUNKS.c.file_id, CHUNKS.c.embedding)
        .where(CHUNKS.c.vector_store_id == store_id, CHUNKS.c.embedding.is_not(None))
        .order_by(CHUNKS.c.id)
    )
    rows = list(await conn.execute(query))
    if not rows:
        return np.zeros(0, np.int64), [], np.zeros((0, 0), np.float32)
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(len(rows), -1)
    return ids, [r[1] for r in rows], matrix
