"""SQLite's FTS5 index of chunk text gains the chunk's store as a second column, so a search
ranks only its stores' chunks (an FTS5 AND) instead of every store's matches.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TOKENIZER = "tokenize='porter unicode61 remove_diacritics 2'"


def _fts(columns: str) -> None:
    """(Re)create the external-content FTS5 table over `columns`, its triggers, its index."""
    op.execute("DROP TRIGGER IF EXISTS vector_store_chunks_ai")
    op.execute("DROP TRIGGER IF EXISTS vector_store_chunks_ad")
    op.execute("DROP TABLE IF EXISTS vector_store_chunks_fts")
    op.execute(
        f"CREATE VIRTUAL TABLE vector_store_chunks_fts USING fts5({columns}, "
        f"content='vector_store_chunks', content_rowid='id', {_TOKENIZER})"
    )
    new = ", ".join(f"new.{c.strip()}" for c in columns.split(","))
    old = ", ".join(f"old.{c.strip()}" for c in columns.split(","))
    op.execute(
        "CREATE TRIGGER vector_store_chunks_ai AFTER INSERT ON vector_store_chunks BEGIN "
        f"INSERT INTO vector_store_chunks_fts(rowid, {columns}) VALUES (new.id, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER vector_store_chunks_ad AFTER DELETE ON vector_store_chunks BEGIN "
        f"INSERT INTO vector_store_chunks_fts(vector_store_chunks_fts, rowid, {columns}) "
        f"VALUES ('delete', old.id, {old}); END"
    )
    op.execute("INSERT INTO vector_store_chunks_fts(vector_store_chunks_fts) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _fts("text, vector_store_id")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _fts("text")
