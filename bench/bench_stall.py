"""Amplification probe (issue 11): how long one caller's maximal requests keep others waiting.

Starts `openai-assistant-mcp api` (SQLite) as a subprocess. Another tenant reads an assistant
and writes a small message in a loop; meanwhile six callers each send the largest thread
create the API takes (`--messages` messages filling the 4 MiB body cap), all at once. Reports
the longest wait of the other tenant's read and write during the burst (the event loop's
longest stall as a client sees it), their usual latency before it, and how the burst ended.

    uv run python bench/bench_stall.py [--messages 32] [--rounds 3]

--messages 117000 reproduces the issue's probe (tiny messages, refused since the 32 cap).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from common import free_port, machine_lines, rss_mb

COMMAND = str(Path(sys.executable).with_name("openai-assistant-mcp"))
BODY_CAP = 4 * 1024 * 1024


def maximal_thread(messages: int) -> dict[str, object]:
    """A thread create with `messages` messages that fills (almost) the body cap."""
    size = max(1, (BODY_CAP - 200 * messages) // messages - 64)
    text = "x" * min(size, 256_000)
    return {"messages": [{"role": "user", "content": text} for _ in range(messages)]}


async def probe(http: httpx2.AsyncClient, assistant: str, thread: str, until: float) -> list:
    """(read seconds, write seconds) pairs, back to back, until `until`."""
    samples = []
    while time.monotonic() < until:
        started = time.monotonic()
        await http.get(f"/assistants/{assistant}")
        read = time.monotonic() - started
        started = time.monotonic()
        await http.post(f"/threads/{thread}/messages", json={"role": "user", "content": "hi"})
        samples.append((read, time.monotonic() - started))
        await asyncio.sleep(0.01)
    return samples


async def burst(base: str, body: dict[str, object]) -> tuple[list[int], float]:
    async with httpx2.AsyncClient(base_url=base, timeout=300) as http:
        started = time.monotonic()

        async def one(n: int) -> int:
            headers = {"Authorization": f"Bearer sk-burst-{n}"}
            return (await http.post("/threads", json=body, headers=headers)).status_code

        statuses = await asyncio.gather(*(one(n) for n in range(6)))
        return list(statuses), time.monotonic() - started


async def measure(base: str, messages: int, rounds: int) -> dict[str, object]:
    headers = {"Authorization": "Bearer sk-other-tenant"}
    async with httpx2.AsyncClient(base_url=base, headers=headers, timeout=300) as http:
        assistant = (await http.post("/assistants", json={"model": "m"})).json()["id"]
        thread = (await http.post("/threads", json={})).json()["id"]
        quiet = await probe(http, assistant, thread, time.monotonic() + 3)
        body = maximal_thread(messages)
        worst_read = worst_write = 0.0
        statuses: list[int] = []
        took: list[float] = []
        for _ in range(rounds):
            task = asyncio.create_task(burst(base, body))
            samples: list = []
            while not task.done():
                samples += await probe(http, assistant, thread, time.monotonic() + 0.5)
            round_statuses, seconds = task.result()
            statuses += round_statuses
            took.append(seconds)
            worst_read = max([worst_read, *(r for r, _ in samples)])
            worst_write = max([worst_write, *(w for _, w in samples)])
    return {
        "read_p50": statistics.median(r for r, _ in quiet) * 1000,
        "write_p50": statistics.median(w for _, w in quiet) * 1000,
        "worst_read": worst_read * 1000,
        "worst_write": worst_write * 1000,
        "statuses": sorted(set(statuses)),
        "burst_seconds": max(took),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-stall-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DATABASE"))}
        env.update(DATA_DIR=str(Path(tmp) / "data"), LOG_LEVEL="WARNING")
        port = free_port()
        server = subprocess.Popen(
            [COMMAND, "api", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}/v1"
            for _ in range(600):
                try:
                    httpx2.get(base + "/assistants", timeout=1)
                    break
                except httpx2.TransportError:
                    time.sleep(0.1)
            figures = asyncio.run(measure(base, args.messages, args.rounds))
            figures["rss"] = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    print("\n".join(machine_lines()))
    print(f"six concurrent thread creates of {args.messages} messages (~4 MiB each), "
          f"{args.rounds} rounds")  # fmt: skip
    for name, value in figures.items():
        print(f"{name}: {value:.0f}" if isinstance(value, float) else f"{name}: {value}")


if __name__ == "__main__":
    main()
