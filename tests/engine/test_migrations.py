"""The schema is migrated at start: a restart on the same database keeps the data and
leaves `alembic_version` at the newest revision."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from openai_assistant_mcp.engine.store.database import MIGRATIONS_DIR, Database, head_revision
from openai_assistant_mcp.engine.store.tables import metadata
from tests.support.engine import (
    SpecViolations,
    dump_tables,
    engine_settings,
    engine_state,
    openai_client,
    running_app,
)


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_restart_keeps_data_at_head(
    backend: str,
    new_database_url: Callable[[str], Awaitable[str]],
    tmp_path: Path,
    spec_violations: SpecViolations,
) -> None:
    settings = engine_settings(await new_database_url(backend), tmp_path)
    async with running_app(settings) as app:
        client = openai_client(app, "sk-test-migrations", spec_violations)
        assistant = await client.beta.assistants.create(model="gpt-4o", name="durable")
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "keep"}])
        first = await dump_tables(app)
        await client.close()
        async with engine_state(app).db.read() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert set(metadata.tables) | {"alembic_version"} <= tables
    assert first["alembic_version"] == [{"version_num": _head()}]

    async with running_app(settings) as app:  # start again: migrations find nothing to do
        client = openai_client(app, "sk-test-migrations", spec_violations)
        assert (await client.beta.assistants.retrieve(assistant.id)).name == "durable"
        listed = await client.beta.threads.messages.list(thread.id)
        assert [m.content[0].text.value for m in listed.data] == ["keep"]  # type: ignore[union-attr]
        await client.close()
        assert await dump_tables(app) == first


def test_the_head_read_from_the_files_is_alembics() -> None:
    # A database at this revision starts without loading Alembic (Database.migrate).
    assert head_revision() == _head()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_database_one_revision_behind_is_still_upgraded(
    backend: str, new_database_url: Callable[[str], Awaitable[str]]
) -> None:
    db = Database(await new_database_url(backend))
    try:
        await db.migrate()
        # Marked one revision back (as an older build left it): not at head, so Alembic runs
        # and, finding 0005's work done, only moves the mark (its upgrade is idempotent) ...
        async with db.write() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))
        assert not await db.at_head()
        await db.migrate()
        async with db.read() as conn:
            found = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert [row[0] for row in found] == [_head()]
        assert await db.at_head()
    finally:
        await db.close()
