"""Alembic environment. At start the engine hands over its own connection
(`config.attributes["connection"]`); from the command line (`uv run alembic ...`, see
docs/migrations.md) the database is DATABASE_URL, else the engine's default SQLite."""

from __future__ import annotations

import asyncio
from fnmatch import fnmatch
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from openai_assistant_mcp.engine.settings import EngineSettings
from openai_assistant_mcp.engine.store import vector_tables  # noqa: F401  (registers its tables)
from openai_assistant_mcp.engine.store.database import MIGRATION_LOCK, ensure_sqlite_dir
from openai_assistant_mcp.engine.store.tables import metadata

# What migrations create with raw SQL (search indexes), so not in tables.py: autogenerate and
# `alembic check` leave these alone instead of offering to drop them. (kind, table, name).
RAW_SQL_OBJECTS = {
    ("table", None, "vector_store_chunks_fts*"),  # SQLite FTS5 table and its shadow tables
    ("column", "vector_store_chunks", "tsv"),  # PostgreSQL full-text column and its index
    ("index", "vector_store_chunks", "ix_vector_store_chunks_tsv"),
    ("column", "vector_store_chunks", "vec"),  # pgvector column, where the extension exists
}


def include_object(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    if not reflected or compare_to is not None or name is None:
        return True
    table = getattr(getattr(obj, "table", None), "name", None)
    for raw_kind, raw_table, raw_name in RAW_SQL_OBJECTS:
        if kind == raw_kind and raw_table in (None, table) and fnmatch(name, raw_name):
            return False
    return True


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_command_line(url: str) -> None:
    """The engine's async driver, one transaction; on PostgreSQL under the same advisory lock
    the engine takes, so a migration never races an engine starting on the same database."""
    ensure_sqlite_dir(url)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await conn.run_sync(run_on)
    finally:
        await engine.dispose()


handed_over = context.config.attributes.get("connection")
if handed_over is None and context.config.config_file_name:  # alembic.ini's log settings
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)
if handed_over is not None:
    run_on(handed_over)
elif context.is_offline_mode():  # `alembic upgrade head --sql`: print the SQL instead
    context.configure(
        url=EngineSettings().resolved_database_url(),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_from_command_line(EngineSettings().resolved_database_url()))
