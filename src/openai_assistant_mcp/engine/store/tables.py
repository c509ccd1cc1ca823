"""Tables: each object is its API JSON document plus the columns used to find, order and lock it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

Body = JSON().with_variant(JSONB(), "postgresql")
# `seq` orders lists (insertion order); SQLite needs plain INTEGER for its rowid alias.
Seq = BigInteger().with_variant(Integer(), "sqlite")


def _id() -> Column[str]:
    return Column("id", String(64), nullable=False, unique=True)


assistants = Table(
    "assistants",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    _id(),
    Column("tenant", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("body", Body, nullable=False),
    Index("ix_assistants_tenant_seq", "tenant", "seq"),
)

threads = Table(
    "threads",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    _id(),
    Column("tenant", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("body", Body, nullable=False),
    # (tenant, seq): the thread list extension pages a tenant's threads in order (0006).
    Index("ix_threads_tenant_seq", "tenant", "seq"),
)

messages = Table(
    "messages",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    _id(),
    Column("tenant", String(64), nullable=False),
    Column("thread_id", String(64), ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("body", Body, nullable=False),
    Index("ix_messages_thread_seq", "thread_id", "seq"),
    Index("ix_messages_thread_run", "thread_id", "run_id"),
)

runs = Table(
    "runs",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    _id(),
    Column("tenant", String(64), nullable=False),
    Column("thread_id", String(64), ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Which engine process executes the run, and until when its claim holds (unix seconds).
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("body", Body, nullable=False),
    # What executing the run needs and the API does not show (migration 0002).
    Column("execution", Body, nullable=True),
    Index("ix_runs_thread_seq", "thread_id", "seq"),
    Index("ix_runs_status", "status"),
)

run_steps = Table(
    "run_steps",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    _id(),
    Column("tenant", String(64), nullable=False),
    Column("thread_id", String(64), ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("body", Body, nullable=False),
    Index("ix_run_steps_run_seq", "run_id", "seq"),
)

# --- files and uploads (migration 0003) ------------------------------------------------------
# A file's bytes live in `blob_chunks`, in pieces of at most CHUNK_BYTES, so every engine process
# sharing the database reads them and no request ever holds a whole file in memory. `status` is
# 'writing' while the pieces arrive (the file is invisible until 'ready').

files = Table(
    "files",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    _id(),
    Column("tenant", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("body", Body, nullable=False),
    Index("ix_files_tenant_seq", "tenant", "seq"),
    Index("ix_files_status", "status"),
)

uploads = Table(
    "uploads",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    _id(),
    Column("tenant", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("body", Body, nullable=False),
    Index("ix_uploads_status_expires", "status", "expires_at"),
)

upload_parts = Table(
    "upload_parts",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    _id(),
    Column("tenant", String(64), nullable=False),
    Column("upload_id", String(64), ForeignKey("uploads.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("body", Body, nullable=False),
    Index("ix_upload_parts_upload", "upload_id", "seq"),
)

# Pieces of a file's or an upload part's bytes; `owner_id` is the file or part ID. Completing an
# upload re-owns its parts' pieces to the new file (no bytes copied).
blob_chunks = Table(
    "blob_chunks",
    metadata,
    Column("owner_id", String(64), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("owner_id", "idx", name="pk_blob_chunks"),
)
