"""What the engine says when it cannot start on its database: a DATABASE_URL it cannot use, or a
database it cannot reach, in one line naming the setting, the dialect or the host and port, and
a valid URL. Nothing heavy is imported at module level: the CLI checks the URL before loading
anything, and every server and command says a failure the same way."""

from __future__ import annotations

import importlib.util
import socket
from typing import Any
from urllib.parse import unquote, urlsplit

POSTGRES_EXAMPLE = "postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE"
SQLITE_EXAMPLE = "sqlite+aiosqlite:////absolute/path/assistants.db"
EXAMPLES = f"e.g. {POSTGRES_EXAMPLE} or {SQLITE_EXAMPLE}"
# The dialect+driver pairs the store speaks (store/database.py), and what they are called.
DIALECTS = {"postgresql+asyncpg": "PostgreSQL", "sqlite+aiosqlite": "SQLite"}


def _shown(text: str, limit: int = 60) -> str:
    """A part of the user's URL (or an error) as a message may quote it: printable, short."""
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


def database_refusal(url: str | None) -> str | None:
    """Why DATABASE_URL cannot work, read from the URL alone and the drivers installed (never
    quoting its password); None when it names a dialect the store speaks (or is unset: SQLite
    in DATA_DIR)."""
    if not url:
        return None
    scheme, separator, _ = url.partition("://")
    if not separator or not scheme:
        return f"DATABASE_URL is not a database URL (no dialect://): {EXAMPLES}"
    dialect = scheme.lower()
    family = dialect.split("+", 1)[0]
    if dialect in DIALECTS:
        try:
            urlsplit(url).port  # noqa: B018 - parsing it is the check
        except ValueError:
            return f"DATABASE_URL has a port that is not a number: {POSTGRES_EXAMPLE}"
        if family == "postgresql" and importlib.util.find_spec("asyncpg") is None:
            return (
                "DATABASE_URL names PostgreSQL, whose driver (asyncpg) comes with the postgres "
                "extra, not installed here: pip install 'openai-assistant-mcp[postgres]'"
            )
        return None
    if family in ("postgresql", "postgres"):
        return (
            f"DATABASE_URL names the dialect '{_shown(scheme)}': this server reaches "
            f"PostgreSQL through asyncpg, so the URL starts postgresql+asyncpg://, "
            f"e.g. {POSTGRES_EXAMPLE}"
        )
    if family == "sqlite":
        return (
            f"DATABASE_URL names the dialect '{_shown(scheme)}': SQLite URLs start "
            f"sqlite+aiosqlite://, e.g. {SQLITE_EXAMPLE}"
        )
    return (
        f"DATABASE_URL names the dialect '{_shown(scheme)}', which this server does not speak "
        f"(PostgreSQL or SQLite only): {EXAMPLES}"
    )


def where(url: str) -> str:
    """The database a URL names, without its password: 'PostgreSQL at host:5432' or
    'the SQLite file /path'."""
    dialect = url.partition("://")[0].lower()
    if dialect.startswith("sqlite"):
        path = url.partition("://")[2].partition("?")[0].removeprefix("/")
        return f"the SQLite file {_shown(unquote(path)) or ':memory:'}"
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    try:
        port = parts.port or 5432
    except ValueError:
        port = 5432
    return f"{DIALECTS.get(dialect, 'the database')} at {_shown(host)}:{port}"


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc`, what it wraps (SQLAlchemy's `orig`, __cause__, __context__), innermost last."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else current.__cause__ or current.__context__
        )
    return chain


def _reason(exc: BaseException) -> str:
    chain = _causes(exc)
    for cause in chain:
        if isinstance(cause, TimeoutError):
            from .store.database import CONNECT_TIMEOUT  # loaded by then: it failed to connect

            return f"no answer within {CONNECT_TIMEOUT:g} s (a host that drops connections?)"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (nothing listens on that port)"
        if isinstance(cause, socket.gaierror):
            return "unknown host name"
    for cause in chain:
        name = type(cause).__name__
        if name == "InvalidPasswordError":
            return "the user name or password is wrong"
        if name == "InvalidCatalogNameError":
            return "that database does not exist on the server"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
    innermost = chain[-1]
    text = str(innermost).strip().splitlines()[0] if str(innermost).strip() else ""
    return _shown(text, 200) if text else type(innermost).__name__


# Where the store's failures come from: the database drivers, SQLAlchemy, the network, the disk.
_STORE_MODULES = ("sqlalchemy", "asyncpg", "sqlite3", "aiosqlite", "alembic")


def start_failure(exc: BaseException, url: str) -> str:
    """One line for an engine that failed to start: a store it could not open (the setting,
    where it points, why, a valid URL), or anything else in its own words."""
    refusal = database_refusal(url)
    if refusal:
        return refusal
    for cause in _causes(exc):
        module = type(cause).__module__.split(".", 1)[0]
        if isinstance(cause, OSError | TimeoutError) or module in _STORE_MODULES:
            return database_failure(exc, url)
    return f"the Assistants engine failed to start: {_reason(exc)}"


def database_failure(exc: BaseException, url: str) -> str:
    """One line for a store that failed to open: the setting, where it points, why, and a
    valid URL."""
    example = SQLITE_EXAMPLE if url.lower().startswith("sqlite") else POSTGRES_EXAMPLE
    return f"DATABASE_URL: cannot open {where(url)}: {_reason(exc)} (a valid URL: {example})"


async def store_reachable(app: Any) -> bool:
    """Whether the started engine `app`'s store answers a trivial query (for /healthz)."""
    from sqlalchemy import text

    state = getattr(app.state, "engine", None)
    if state is None:  # not started (or stopping)
        return False
    async with state.db.read() as conn:
        await conn.execute(text("SELECT 1"))
    return True
