"""Vector stores' tables (migration 0004). Chunk text is indexed for keyword search by SQLite
FTS5 or a PostgreSQL GIN index, and embeddings by pgvector HNSW where it exists."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .tables import Body, Seq, metadata

vector_stores = Table(
    "vector_stores",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("body", Body, nullable=False),
    # {"mode": "local"|"provider"|"none", "model", "dimensions"}: fixed for the store's life.
    Column("embedding", Body, nullable=False),
    # Bumped whenever the store's chunks change: in-memory vector caches compare it.
    Column("generation", BigInteger, nullable=False, default=0),
    Index("ix_vector_stores_tenant_seq", "tenant", "seq"),
)

# One row per file in a store; `id` is the file's ID (unique within a store). A row with
# status in_progress is queued ingestion work, claimed with a lease like a run.
vector_store_files = Table(
    "vector_store_files",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column(
        "vector_store_id",
        String(64),
        ForeignKey("vector_stores.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("batch_id", String(64), nullable=True),
    Column("status", String(32), nullable=False),
    Column("usage_bytes", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("body", Body, nullable=False),
    UniqueConstraint("vector_store_id", "id", name="uq_vector_store_files_store_file"),
    Index("ix_vector_store_files_store_seq", "vector_store_id", "seq"),
    Index("ix_vector_store_files_file", "id"),
    Index("ix_vector_store_files_status", "status"),
    Index("ix_vector_store_files_batch", "batch_id"),
)

vector_store_file_batches = Table(
    "vector_store_file_batches",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False),
    Column(
        "vector_store_id",
        String(64),
        ForeignKey("vector_stores.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("created_at", BigInteger, nullable=False),
    Column("body", Body, nullable=False),
)

vector_store_chunks = Table(
    "vector_store_chunks",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column(
        "vector_store_id",
        String(64),
        ForeignKey("vector_stores.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("file_id", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("tokens", Integer, nullable=False),
    Column("text", Text, nullable=False),
    # float32 little-endian; NULL in keyword-only stores and where pgvector holds `vec`.
    Column("embedding", LargeBinary, nullable=True),
    Column("dims", Integer, nullable=True),
    Index("ix_vector_store_chunks_store_file", "vector_store_id", "file_id", "position"),
)
