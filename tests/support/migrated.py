"""Fresh databases already at the migrations' head, for tests that start an engine of their
own but do not test the migrations: a copy of one database migrated once per session costs a
file copy (SQLite) or `CREATE DATABASE ... TEMPLATE` (PostgreSQL) instead of a run of every
Alembic migration (1-3 s per database on the loaded 2-core machine). The engine's start then
finds the schema at head and leaves it alone (`Database.migrate`), as on any restart.

Tests of the migrations themselves, and of a start on an empty database, keep asking
`new_database_url` for an empty one."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from openai_assistant_mcp.engine.store.database import Database

from .postgres import PostgresServer

MigratedDatabaseURL = Callable[[str], Awaitable[str]]


class MigratedDatabases:
    """`await url("sqlite" | "postgres")`: a fresh database of that backend, at head."""

    def __init__(
        self,
        new_database_url: Callable[[str], Awaitable[str]],
        postgres: Callable[[], PostgresServer],
        directory: Callable[[], Path],
    ) -> None:
        self._new = new_database_url
        self._postgres = postgres
        self._directory = directory
        self._templates: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def _template(self, backend: str) -> str:
        async with self._lock:
            if backend not in self._templates:
                url = await self._new(backend)
                db = Database(url)
                try:
                    await db.migrate()
                finally:
                    await db.close()
                self._templates[backend] = url
            return self._templates[backend]

    async def url(self, backend: str) -> str:
        template = await self._template(backend)
        if backend == "sqlite":
            copy = _copy_sqlite(Path(make_url(template).database or ""), self._directory())
            return f"sqlite+aiosqlite:///{copy}"
        server = self._postgres()
        name = f"m_{uuid.uuid4().hex[:12]}"
        template_name = make_url(template).database
        conn = await asyncpg.connect(server.admin_dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
        finally:
            await conn.close()
        return make_url(template).set(database=name).render_as_string(hide_password=False)


def _copy_sqlite(source: Path, directory: Path) -> Path:
    """The database file (and its WAL, if one was left: the template is closed, so the WAL
    is normally folded in already) copied into `directory`, modes kept (0600)."""
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy2(f"{source}{suffix}", directory / f"{source.name}{suffix}")
    return directory / source.name


@pytest.fixture(scope="session")
def migrated_database_url(
    request: pytest.FixtureRequest,
    new_database_url: Callable[[str], Awaitable[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> MigratedDatabaseURL:
    """`await migrated_database_url("sqlite" | "postgres")`: the URL of a fresh database whose
    schema is at the migrations' head (no rows)."""
    databases = MigratedDatabases(
        new_database_url,
        lambda: request.getfixturevalue("postgres_server"),
        lambda: tmp_path_factory.mktemp("sqlite-migrated"),
    )
    return databases.url
