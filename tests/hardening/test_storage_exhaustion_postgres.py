"""Hardening round 2 (issue 11), storage exhaustion on PostgreSQL: a write waiting on a lock
another connection holds (table or row), and a full disk (the database's tablespace on a small
tmpfs), answer 503 with Retry-After, write nothing, and the server works again afterwards."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx2
import pytest

from tests.hardening.test_storage_exhaustion import HEADERS, _api, _fill, _unavailable
from tests.support.postgres import PostgresServer


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop of the test's own for asyncpg (the test talks to the server over sync HTTP)."""
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


def _names(http: httpx2.Client) -> list[str]:
    listed = http.get("/assistants", params={"order": "asc", "limit": 100})
    assert listed.status_code == 200, listed.text
    return [a["name"] for a in listed.json()["data"]]


def _database_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.mark.parametrize("lock", ["table", "row"])
def test_a_write_waiting_on_a_lock_held_elsewhere_answers_503(
    tmp_path: Path,
    postgres_server: PostgresServer,
    loop: asyncio.AbstractEventLoop,
    lock: str,
) -> None:
    url = loop.run_until_complete(postgres_server.new_database_url("lock"))
    env = {"DATABASE_URL": url, "DATABASE_LOCK_TIMEOUT": "1"}
    with _api(tmp_path / "data", tmp_path / "server.log", **env) as server:
        http = httpx2.Client(base_url=server.url("/v1"), headers=HEADERS, timeout=30)
        made = http.post("/assistants", json={"model": "m", "name": "before"})
        assert made.status_code == 200
        assistant = made.json()["id"]
        holder = loop.run_until_complete(asyncpg.connect(_database_dsn(url)))
        try:
            loop.run_until_complete(holder.execute("BEGIN"))
            if lock == "table":  # blocks every write to the table, not its reads
                statement = "LOCK TABLE assistants IN EXCLUSIVE MODE"
                loop.run_until_complete(holder.execute(statement))
                answer = http.post("/assistants", json={"model": "m", "name": "during"})
            else:  # another transaction holds the assistant's row
                statement = "SELECT 1 FROM assistants WHERE id = $1 FOR UPDATE"
                loop.run_until_complete(holder.execute(statement, assistant))
                answer = http.post(f"/assistants/{assistant}", json={"name": "during"})
            _unavailable(answer, "the database is out of resources or locked")
            assert http.get("/assistants").status_code == 200  # reads go on
        finally:
            loop.run_until_complete(holder.execute("ROLLBACK"))
            loop.run_until_complete(holder.close())
        if lock == "row":
            assert http.post(f"/assistants/{assistant}", json={"name": "after"}).status_code == 200
            assert _names(http) == ["after"]
        else:
            assert http.post("/assistants", json={"model": "m", "name": "after"}).status_code == 200
            assert _names(http) == ["before", "after"]  # nothing half-written
        assert "Traceback" not in server.log()


@pytest.fixture
def small_tablespace(
    postgres_server: PostgresServer, loop: asyncio.AbstractEventLoop
) -> Iterator[tuple[str, Path]]:
    """A 32 MiB tmpfs as a PostgreSQL tablespace, owned by the server's user; (name, mount).
    Room for the template database's copy (a few MiB) and the engine's tables, then filled."""
    if postgres_server.external is not None or postgres_server.user is None:
        pytest.skip("needs the PostgreSQL the tests start, as root (to mount a tmpfs)")
    user = postgres_server.user
    mount = postgres_server.root / f"space-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    options = f"size=32m,uid={user.pw_uid},gid={user.pw_gid},mode=0700"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    name = f"small_{uuid.uuid4().hex[:8]}"
    admin = postgres_server.admin_dsn()

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    try:
        loop.run_until_complete(run(f"CREATE TABLESPACE {name} LOCATION '{mount}'"))
        yield name, mount
    finally:
        # Its databases first (the server has stopped by now), then the tablespace.
        async def drop() -> None:
            conn = await asyncpg.connect(admin)
            try:
                found = await conn.fetch(
                    "SELECT datname FROM pg_database d JOIN pg_tablespace t"
                    " ON d.dattablespace = t.oid WHERE t.spcname = $1",
                    name,
                )
                for row in found:
                    await conn.execute(f'DROP DATABASE "{row["datname"]}" WITH (FORCE)')
                await conn.execute(f"DROP TABLESPACE {name}")
            finally:
                await conn.close()

        try:
            loop.run_until_complete(drop())
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_tablespace_answers_503_and_recovers(
    tmp_path: Path,
    postgres_server: PostgresServer,
    small_tablespace: tuple[str, Path],
    loop: asyncio.AbstractEventLoop,
) -> None:
    space, mount = small_tablespace
    name = f"full_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(postgres_server.admin_dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TABLESPACE {space}')
        finally:
            await conn.close()

    loop.run_until_complete(create())
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{postgres_server.port}/{name}"
    with _api(tmp_path / "data", tmp_path / "server.log", DATABASE_URL=url) as server:
        http = httpx2.Client(base_url=server.url("/v1"), headers=HEADERS, timeout=30)
        assert http.post("/assistants", json={"model": "m", "name": "kept"}).status_code == 200
        filler = _fill(mount)  # as root: the tmpfs's every free byte
        # Incompressible instructions (TOAST would shrink repeated text to nothing).
        big = {"model": "m", "name": "big", "instructions": os.urandom(120_000).hex()}
        answers = [http.post("/assistants", json=big) for _ in range(10)]
        refused = [a for a in answers if a.status_code != 200]
        assert refused, "the tablespace never filled up"
        for answer in refused:
            _unavailable(answer, "the database's disk is full")
        os.remove(filler)
        assert http.post("/assistants", json={"model": "m", "name": "later"}).status_code == 200
        names = _names(http)
        assert names[0] == "kept" and names[-1] == "later"
        assert len(names) == 2 + len(answers) - len(refused)  # the refused wrote nothing
        assert "Traceback" not in server.log()
