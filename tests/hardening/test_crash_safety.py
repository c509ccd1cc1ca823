"""Data safety: `kill -9` an engine process during a burst of concurrent writes, start it again,
and find the database intact (SQLite: `PRAGMA integrity_check` is ok), every write the API
acknowledged (200 received) present as acknowledged, and nothing half-written (a thread created
with three messages has all three or does not exist). On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx2
import pytest
from sqlalchemy.engine import make_url

from tests.runner.engine_process import EngineProcess
from tests.support.scripted_provider import ScriptedProvider

WRITERS = 32
KILL_AFTER_ACKNOWLEDGED = 200
HEADERS = {"Authorization": "Bearer sk-crash-burst", "OpenAI-Beta": "assistants=v2"}


@dataclass
class Acknowledged:
    """What the API said it stored: id -> the value it must have."""

    assistants: dict[str, str] = field(default_factory=dict)  # id -> name
    messages: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (thread, text)
    threads: set[str] = field(default_factory=set)  # created with 3 messages
    renamed: dict[str, str] = field(default_factory=dict)  # assistant id -> new name
    # Every name sent for an assistant, in order: a rename lost in flight may have committed.
    names_sent: dict[str, list[str]] = field(default_factory=dict)
    enough: asyncio.Event = field(default_factory=asyncio.Event)  # time to kill

    def count(self) -> int:
        return len(self.assistants) + len(self.messages) + len(self.threads) + len(self.renamed)


async def _burst(url: str, targets: list[str], acknowledged: Acknowledged) -> int:
    """WRITERS clients write until the server dies; returns how many writes were refused or
    lost in flight (not acknowledged)."""
    lost = 0

    async def writer(n: int) -> None:
        nonlocal lost
        mine: list[str] = []  # this writer's assistants
        async with httpx2.AsyncClient(base_url=url, headers=HEADERS, timeout=30) as http:
            for i in range(10_000):
                tag = f"w{n}-{i}-{secrets.token_hex(3)}"
                try:
                    match i % 4:
                        case 0:
                            made = await http.post("/assistants", json={"model": "m", "name": tag})
                            if made.status_code == 200:
                                acknowledged.assistants[made.json()["id"]] = tag
                                acknowledged.names_sent[made.json()["id"]] = [tag]
                                mine.append(made.json()["id"])
                        case 1:
                            thread = targets[(n + i) % len(targets)]
                            made = await http.post(
                                f"/threads/{thread}/messages", json={"role": "user", "content": tag}
                            )
                            if made.status_code == 200:
                                acknowledged.messages[made.json()["id"]] = (thread, tag)
                        case 2:
                            messages = [{"role": "user", "content": f"{tag}-{k}"} for k in range(3)]
                            made = await http.post("/threads", json={"messages": messages})
                            if made.status_code == 200:
                                acknowledged.threads.add(made.json()["id"])
                        case _:  # rename this writer's newest assistant
                            acknowledged.names_sent[mine[-1]].append(tag)
                            made = await http.post(f"/assistants/{mine[-1]}", json={"name": tag})
                            if made.status_code == 200:
                                acknowledged.renamed[mine[-1]] = tag
                    assert made.status_code == 200, made.text  # no error while alive
                    if acknowledged.count() >= KILL_AFTER_ACKNOWLEDGED:
                        acknowledged.enough.set()
                except httpx2.TransportError:
                    lost += 1
                    return  # the server is gone

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    return lost


async def _kill_during_burst(
    engine: EngineProcess, acknowledged: Acknowledged
) -> tuple[list[str], int, float]:
    """Writes until KILL_AFTER_ACKNOWLEDGED are acknowledged, then SIGKILL mid-burst; returns
    the threads messages were added to, the writes lost in flight, the rate acknowledged."""
    async with httpx2.AsyncClient(base_url=engine.url, headers=HEADERS) as http:
        targets = [(await http.post("/threads", json={})).json()["id"] for _ in range(4)]
    burst = asyncio.create_task(_burst(engine.url, targets, acknowledged))
    started = time.monotonic()
    await asyncio.wait(
        [burst, asyncio.create_task(acknowledged.enough.wait())],
        return_when=asyncio.FIRST_COMPLETED,
    )
    engine.kill()  # SIGKILL while every writer has a request in flight
    elapsed = time.monotonic() - started
    lost = await burst
    return targets, lost, acknowledged.count() / elapsed


async def _check_acknowledged(url: str, acknowledged: Acknowledged) -> None:
    async with httpx2.AsyncClient(base_url=url, headers=HEADERS, timeout=30) as http:

        async def get(path: str) -> dict:
            found = await http.get(path)
            assert found.status_code == 200, (path, found.text)
            return found.json()

        for assistant_id, name in acknowledged.assistants.items():
            body = await get(f"/assistants/{assistant_id}")
            # The last acknowledged name, or one sent after it whose answer the kill cut off.
            sent = acknowledged.names_sent[assistant_id]
            last = sent.index(acknowledged.renamed.get(assistant_id, name))
            assert body["name"] in sent[last:], (body["name"], sent, last)
        for message_id, (thread_id, text) in acknowledged.messages.items():
            body = await get(f"/threads/{thread_id}/messages/{message_id}")
            assert body["content"][0]["text"]["value"] == text
        for thread_id in acknowledged.threads:
            page = await get(f"/threads/{thread_id}/messages?limit=10")
            assert len(page["data"]) == 3


def _sqlite_checks(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        return _message_counts(db.execute(_COUNTS).fetchall())


async def _postgres_counts(url: str) -> dict[str, int]:
    parts = make_url(url)
    conn = await asyncpg.connect(
        host=parts.host, port=parts.port, user=parts.username, database=parts.database
    )
    try:
        return _message_counts([tuple(row) for row in await conn.fetch(_COUNTS)])
    finally:
        await conn.close()


_COUNTS = "SELECT t.id, (SELECT count(*) FROM messages m WHERE m.thread_id = t.id) FROM threads t"


def _message_counts(rows: list[tuple[str, int]]) -> dict[str, int]:
    return {thread_id: int(count) for thread_id, count in rows}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_kill_9_during_a_burst_of_writes(
    backend: str,
    new_database_url: Callable[[str], Awaitable[str]],
    tmp_path: Path,
    model_provider_server: ScriptedProvider,
    engines: list[EngineProcess],
) -> None:
    url = await new_database_url(backend)
    first = EngineProcess(url, tmp_path, model_provider_server.base_url).start()
    engines.append(first)
    acknowledged = Acknowledged()
    targets, lost, rate = await _kill_during_burst(first, acknowledged)

    second = EngineProcess(url, tmp_path, model_provider_server.base_url).start()
    engines.append(second)
    await _check_acknowledged(second.url, acknowledged)
    if backend == "sqlite":
        counts = _sqlite_checks(Path(make_url(url).database or ""))
    else:
        counts = await _postgres_counts(url)
    # Threads made in the burst have their 3 messages or do not exist at all.
    half_written = {t: n for t, n in counts.items() if t not in targets and n != 3}
    assert half_written == {}
    assert acknowledged.threads <= set(counts)
    print(
        f"\n{backend}: kill -9 after {acknowledged.count()} acknowledged writes "
        f"({rate:.0f}/s, {WRITERS} writers, {lost} in flight lost unacknowledged); "
        "after restart all acknowledged present, integrity ok"
    )
