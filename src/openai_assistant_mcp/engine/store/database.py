"""Database access: async engine, one transaction per write, Alembic migrations at start."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x6F616D6D  # any constant: the advisory lock taken while migrating


def _sqlite_engine(url: str, *, immediate: bool, lock_timeout: float) -> AsyncEngine:
    """A SQLite engine in WAL mode; `immediate` write transactions take the lock up front,
    so two writers queue on the busy timeout instead of failing on a lock upgrade."""
    # No rollback when a connection goes back to the pool: every use ends its transaction
    # (read() and write() commit or roll back), and with aiosqlite each statement is a thread
    # round trip.
    engine = create_async_engine(
        url, connect_args={"timeout": lock_timeout}, pool_reset_on_return=None
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The store's connections. `read()` and `write()` each run one transaction."""

    def __init__(self, url: str, lock_timeout: float = 30.0) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            _ensure_sqlite_dir(url)
            self._reader = _sqlite_engine(url, immediate=False, lock_timeout=lock_timeout)
            self._writer = _sqlite_engine(url, immediate=True, lock_timeout=lock_timeout)
        else:
            self._reader = self._writer = create_async_engine(
                url,
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=True,
                # Plan each query for its actual values. A cached generic plan pages a small
                # thread by walking the whole table backwards past the big threads' rows
                # (measured: 6.6 ms instead of 0.03 ms next to a 10,000-message thread).
                connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
            )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._reader.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        if self._write_lock is None:
            async with self._writer.begin() as conn:
                yield conn
            return
        # SQLite has one writer at a time: queue here rather than in SQLite's busy handler,
        # which sleeps in steps of up to 100 ms while another connection holds the lock.
        async with self._write_lock, self._writer.begin() as conn:
            yield conn

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (keeps existing data)."""
        async with self._writer.begin() as conn:
            if self.is_postgres:
                # Engine processes starting together on one database migrate one at a time
                # (the lock ends with the transaction); the later ones find nothing to do.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        await self._reader.dispose()
        if self._writer is not self._reader:
            await self._writer.dispose()

    def describe(self) -> str:
        """The URL without its password, for start-up messages."""
        return describe_url(self.url)


# SQLite's messages for a full disk, a lock held too long, a failed write (SQLITE_FULL,
# SQLITE_BUSY, SQLITE_IOERR); PostgreSQL's SQLSTATE classes "insufficient resources" (53: disk
# full, out of memory, too many connections) and "lock not available" (55P03).
_SQLITE_UNAVAILABLE = {
    "database or disk is full": "the database's disk is full",
    "database is locked": "the database is locked by another process",
    "disk i/o error": "the database could not write to its disk",
}


def unavailable_reason(exc: BaseException) -> str | None:
    """Why the store cannot serve now, when `exc` is a passing condition a retry may get past
    (full disk, a lock held elsewhere); None for any other failure."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "the database's disk is full"
    if not isinstance(exc, DBAPIError):
        return None
    text = str(exc.orig).lower()
    for marker, reason in _SQLITE_UNAVAILABLE.items():
        if marker in text:
            return reason
    state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    if state == "53100":
        return "the database's disk is full"
    if state.startswith("53") or state == "55P03":
        return "the database is out of resources or locked"
    return None


def describe_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _ensure_sqlite_dir(url: str) -> None:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
