"""Database access: async engine, one transaction per write, Alembic migrations at start."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .files import private_sqlite_files

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Seconds a new PostgreSQL connection may take (TCP, TLS, authentication): an unreachable host
# fails start-up in one line (engine/startup.py) rather than after asyncpg's 60 s.
CONNECT_TIMEOUT = 5.0
MIGRATION_LOCK = 0x6F616D6D  # any constant: the advisory lock taken while migrating
# Writes between two WAL checkpoints (SQLite's own default is about every 1,000 pages).
CHECKPOINT_EVERY_WRITES = 500
CLOSE_CHECKPOINT_SECONDS = 5.0
log = logging.getLogger(__name__)


def _sqlite_pragmas(engine: AsyncEngine, *, immediate: bool, busy_ms: int, wal_pages: int) -> None:
    """WAL mode, our own BEGIN (IMMEDIATE for writers: the lock up front, so two writers never
    fail on a lock upgrade), and how long to wait for a lock and when to checkpoint."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute(f"PRAGMA wal_autocheckpoint={wal_pages}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_reader(url: str, lock_timeout: float) -> AsyncEngine:
    """Readers on aiosqlite's threads. No rollback when a connection goes back to the pool:
    every use ends its transaction, and each statement is a thread round trip."""
    engine = create_async_engine(
        url, connect_args={"timeout": lock_timeout}, pool_reset_on_return=None
    )
    _sqlite_pragmas(engine, immediate=False, busy_ms=int(lock_timeout * 1000), wal_pages=1000)
    return engine


class _InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection running each call at once on the event loop's thread.

    Why: a statement on aiosqlite's thread resumes its task only after every other ready task
    of a busy loop has had its turn, and a write transaction holds the one write lock across
    several statements, so under load writes queued for seconds (bench/RESULTS.md). SQLite
    answers a write in microseconds: cheaper than a turn of the loop. Nothing here waits on
    the disk's lock (busy_timeout 0, `Database.write` retries asynchronously) or a checkpoint
    (run on a thread, `Database._checkpoint`)."""

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


# Seconds an inline read waits for SQLite's read lock on the loop's thread. In WAL mode a reader
# never waits for a writer; only WAL recovery after a crash (rare, short) holds readers back.
_INLINE_READ_BUSY = 0.05


def _sqlite_inline_reader(url: str) -> AsyncEngine:
    """Readers for keyed reads (one object by ID, one bounded page), statements run inline
    (see _InlineConnection): each statement through aiosqlite's thread costs a wake-up of that
    thread and a turn of the loop, several times the microseconds SQLite takes to find a row by
    its key (bench/RESULTS.md, issue 25). Scans (search, ingestion) keep the threaded reader."""
    path = make_url(url).database or ""

    async def connect() -> aiosqlite.Connection:
        return await _InlineConnection(
            lambda: sqlite3.connect(path, timeout=_INLINE_READ_BUSY, check_same_thread=False),
            64,
        )

    engine = create_async_engine(url, async_creator=connect, pool_reset_on_return=None)
    busy_ms = int(_INLINE_READ_BUSY * 1000)
    _sqlite_pragmas(engine, immediate=False, busy_ms=busy_ms, wal_pages=1000)
    return engine


def _sqlite_writer(url: str) -> AsyncEngine:
    """The one writer connection, statements run inline (see _InlineConnection)."""
    path = make_url(url).database or ""

    async def connect() -> aiosqlite.Connection:
        return await _InlineConnection(
            lambda: sqlite3.connect(path, timeout=0, check_same_thread=False), 64
        )

    engine = create_async_engine(
        url, async_creator=connect, pool_size=1, max_overflow=0, pool_reset_on_return=None
    )
    _sqlite_pragmas(engine, immediate=True, busy_ms=0, wal_pages=0)
    return engine


class Database:
    """The store's connections. `read()` and `write()` each run one transaction."""

    def __init__(self, url: str, lock_timeout: float = 30.0) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        self.lock_timeout = lock_timeout
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._writes = 0
        self._checkpointing: asyncio.Task[None] | None = None
        if self.is_sqlite:
            ensure_sqlite_dir(url)
            self._reader = _sqlite_reader(url, lock_timeout)
            self._keyed_reader = _sqlite_inline_reader(url)
            self._writer = _sqlite_writer(url)
        else:
            self._reader = self._keyed_reader = self._writer = create_async_engine(
                url,
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=True,
                # Plan each query for its actual values. A cached generic plan pages a small
                # thread by walking the whole table backwards past the big threads' rows
                # (measured: 6.6 ms instead of 0.03 ms next to a 10,000-message thread).
                connect_args={
                    "timeout": CONNECT_TIMEOUT,
                    "server_settings": {
                        "plan_cache_mode": "force_custom_plan",
                        # A lock held elsewhere fails the statement (55P03: a 503 to retry)
                        # after lock_timeout, rather than holding the request forever.
                        "lock_timeout": str(max(1, int(lock_timeout * 1000))),
                    },
                },
            )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._reader.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def read_keyed(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction for reads that find their rows by key or index and return a
        bounded number of them (an object by ID, a page of a list): on SQLite its statements
        run on the loop's thread, cheaper than a round trip to a reader thread. Anything that
        may scan (search, ingestion, whole files) uses `read()`."""
        async with self._keyed_reader.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        if self._write_lock is None:
            async with self._writer.begin() as conn:
                yield conn
            return
        # SQLite has one writer at a time: queue here rather than in SQLite's busy handler,
        # which sleeps in steps of up to 100 ms while another connection holds the lock.
        async with self._write_lock:
            async with AsyncExitStack() as transaction:
                conn = await self._begin_write(transaction)
                yield conn
            self._writes += 1
            if self._writes % CHECKPOINT_EVERY_WRITES == 0:
                self._start_checkpoint()

    async def _begin_write(self, transaction: AsyncExitStack) -> AsyncConnection:
        """BEGIN IMMEDIATE on the writer; while another process holds the lock, retry with
        back-off (the loop keeps serving) until lock_timeout, then 'database is locked'."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_timeout
        delay = 0.002
        while True:
            try:
                return await transaction.enter_async_context(self._writer.begin())
            except OperationalError as exc:
                if "database is locked" not in str(exc.orig) or loop.time() >= deadline:
                    raise
            await asyncio.sleep(min(delay, max(deadline - loop.time(), 0.0)))
            delay = min(delay * 2, 0.1)

    def _start_checkpoint(self) -> None:
        if self._checkpointing is None or self._checkpointing.done():
            self._checkpointing = asyncio.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database on a thread (the writer never checkpoints: that
        writes and syncs pages, too slow for the event loop's thread)."""
        path = make_url(self.url).database or ""
        try:
            async with aiosqlite.connect(path, timeout=self.lock_timeout) as conn:
                await conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:  # the next one will try again
            log.warning("WAL checkpoint failed: %s", type(exc).__name__)

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (keeps existing data). A database
        already there is left alone without loading Alembic (~10 % of an embedded start's
        imports, bench/RESULTS.md issue 25)."""
        if await self.at_head():
            return
        async with self._writer.begin() as conn:
            if self.is_postgres:
                # Engine processes starting together on one database migrate one at a time
                # (the lock ends with the transaction); the later ones find nothing to do.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await conn.run_sync(_upgrade)

    async def at_head(self) -> bool:
        """Whether the schema is at the newest revision (read without Alembic)."""
        head = head_revision()
        if head is None:
            return False
        try:
            async with self.read_keyed() as conn:
                found = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        except DBAPIError:  # no alembic_version table yet: a new database
            return False
        return [row[0] for row in found] == [head]

    async def close(self) -> None:
        # Bounded: a checkpoint is an optimisation, never a reason for shutdown to hang.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_CHECKPOINT_SECONDS):
                if self._checkpointing is not None:
                    await asyncio.gather(self._checkpointing, return_exceptions=True)
                if self.is_sqlite and self._writes:
                    await self._checkpoint()
        await self._reader.dispose()
        if self._writer is not self._reader:
            await self._keyed_reader.dispose()
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


def ensure_sqlite_dir(url: str) -> None:
    """The SQLite file's directory, and the file itself, created private (see files.py;
    nothing for other databases)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return  # a PostgreSQL URL's database is a name, not a path
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        private_sqlite_files(Path(database))


_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(None|['\"][^'\"]+['\"])\s*$", re.M)


def head_revision() -> str | None:
    """The newest revision of MIGRATIONS_DIR, read from the files' `revision` and
    `down_revision` lines; None when it is not one plain chain's end (Alembic decides then)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        fields = {m[1]: m[2] for m in _REVISION.finditer(path.read_text())}
        if "revision" not in fields or "down_revision" not in fields:
            return None
        revisions.add(fields["revision"].strip("'\""))
        if fields["down_revision"] != "None":
            parents.add(fields["down_revision"].strip("'\""))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
