"""Vector stores, their files (queued ingestion work), file batches and chunks, with keyword
indexes (SQLite FTS5 / PostgreSQL GIN) and, where pgvector is installed, a vector column.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

from openai_assistant_mcp.engine.store import vector_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = (
    vector_tables.vector_stores,
    vector_tables.vector_store_files,
    vector_tables.vector_store_file_batches,
    vector_tables.vector_store_chunks,
)


def upgrade() -> None:
    bind = op.get_bind()
    for table in _TABLES:
        table.create(bind)
    if bind.dialect.name == "sqlite":
        # External-content FTS5 over the chunks' text, kept in step by triggers.
        op.execute(
            "CREATE VIRTUAL TABLE vector_store_chunks_fts USING fts5("
            "text, content='vector_store_chunks', content_rowid='id', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER vector_store_chunks_ai AFTER INSERT ON vector_store_chunks BEGIN "
            "INSERT INTO vector_store_chunks_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        op.execute(
            "CREATE TRIGGER vector_store_chunks_ad AFTER DELETE ON vector_store_chunks BEGIN "
            "INSERT INTO vector_store_chunks_fts(vector_store_chunks_fts, rowid, text) "
            "VALUES ('delete', old.id, old.text); END"
        )
        return
    op.execute(
        "ALTER TABLE vector_store_chunks ADD COLUMN tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
    )
    op.execute("CREATE INDEX ix_vector_store_chunks_tsv ON vector_store_chunks USING gin (tsv)")
    available = bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
    ).first()
    try:
        if available is None:
            raise LookupError("not installed")
        with bind.begin_nested():  # a refusal (no privilege) must not abort the migration
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except Exception:
        return  # the engine warns once at start (store/vector_chunks.py: has_pgvector)
    # No fixed dimension (stores differ); HNSW indexes per dimension are partial expression
    # indexes made when a store with a new dimension is created
    # (store/vector_chunks.py: ensure_hnsw_index).
    op.execute("ALTER TABLE vector_store_chunks ADD COLUMN vec vector")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS vector_store_chunks_fts")
    for table in reversed(_TABLES):
        table.drop(bind)
