"""Alembic environment: always run on the connection the engine hands over."""

from __future__ import annotations

from alembic import context

from openai_assistant_mcp.engine.store import vector_tables  # noqa: F401  (registers its tables)
from openai_assistant_mcp.engine.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
