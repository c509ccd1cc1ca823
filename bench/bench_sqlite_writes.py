"""SQLite writes on a busy event loop (issue 11): the engine's store with its writes on
aiosqlite's thread (as before) and inline on the loop's thread (now), side by side in one
process, rounds interleaved, so load from elsewhere on the host falls on both alike.

A busy loop stands in for a saturated server: `--busy` tasks each burn 0.5 ms of CPU per turn
of the loop. Meanwhile 20 writers each insert an assistant row in a write transaction
(`Database.write`, the engine's one write lock), and 20 readers each read one back
(`Database.read`). Reports write and read latency p50/p99 and writes/s for each variant.

    uv run python bench/bench_sqlite_writes.py [--busy 10] [--seconds 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from common import machine_lines, percentile
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from openai_assistant_mcp.engine.store import repository
from openai_assistant_mcp.engine.store.database import Database


def threaded_writer(url: str) -> AsyncEngine:
    """The writer as it was before issue 11: aiosqlite, each statement a thread round trip."""
    engine = create_async_engine(url, connect_args={"timeout": 30}, pool_reset_on_return=None)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA {pragma}")
            cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def one_round(db: Database, busy: int, seconds: float) -> dict[str, float]:
    stop = time.monotonic() + seconds
    writes: list[float] = []
    reads: list[float] = []

    async def burn() -> None:
        while time.monotonic() < stop:
            until = time.perf_counter() + 0.0005
            while time.perf_counter() < until:
                pass
            await asyncio.sleep(0)

    async def writer(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            i += 1
            started = time.perf_counter()
            async with db.write() as conn:
                body = {"id": f"asst_w{n}_{i}_{time.monotonic_ns()}", "name": "x"}
                row = {"id": body["id"], "tenant": "bench", "created_at": 0, "body": body}
                await repository.insert_many(conn, repository.ASSISTANTS, [row])
            writes.append(time.perf_counter() - started)

    async def reader() -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            async with db.read() as conn:
                await conn.execute(text("SELECT body FROM assistants ORDER BY seq DESC LIMIT 1"))
            reads.append(time.perf_counter() - started)

    await asyncio.gather(
        *(burn() for _ in range(busy)),
        *(writer(n) for n in range(20)),
        *(reader() for _ in range(20)),
    )
    return {
        "write_p50": percentile(writes, 50) * 1000,
        "write_p99": percentile(writes, 99) * 1000,
        "writes_per_s": len(writes) / seconds,
        "read_p50": percentile(reads, 50) * 1000,
        "read_p99": percentile(reads, 99) * 1000,
    }


async def main_async(busy: int, seconds: float, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-writes-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'assistants.db'}"
        inline = Database(url)
        await inline.migrate()
        threaded = Database(url)
        await threaded._writer.dispose()
        threaded._writer = threaded_writer(url)
        results: dict[str, list[dict[str, float]]] = {"thread (before)": [], "inline (now)": []}
        for _ in range(rounds):
            for name, db in (("thread (before)", threaded), ("inline (now)", inline)):
                results[name].append(await one_round(db, busy, seconds))
        await inline.close()
        await threaded.close()
    print("\n".join(machine_lines()))
    print(f"busy tasks {busy}, {rounds} rounds of {seconds:g} s each, interleaved")
    print("| writer | write p50 ms | write p99 ms | writes/s | read p50 ms | read p99 ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        for run in runs:
            print(
                f"| {name} | {run['write_p50']:.1f} | {run['write_p99']:.1f} | "
                f"{run['writes_per_s']:.0f} | {run['read_p50']:.1f} | {run['read_p99']:.1f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main_async(args.busy, args.seconds, args.rounds))


if __name__ == "__main__":
    main()
