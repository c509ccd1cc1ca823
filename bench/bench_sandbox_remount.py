"""A/B of issue 21 round 3's sandbox change: new-session and warm-execution time with the
sandbox's root and /dev remounted read-only (after) and without (before), alternated in one
run on the real bubblewrap backend (the netlink seccomp rule is in both: one more BPF compare).

    uv run python bench/bench_sandbox_remount.py [--rounds 12] [--warm 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from openai_assistant_mcp.engine.sandbox import Sandbox, SandboxSettings, bwrap

WITH_REMOUNT = bwrap.BwrapBackend.argv


def without_remount(self: bwrap.BwrapBackend, *args: Any) -> list[str]:
    argv, kept = WITH_REMOUNT(self, *args), []
    skip = 0
    for item in argv:
        if skip:
            skip -= 1
        elif item == "--remount-ro":
            skip = 1
        else:
            kept.append(item)
    return kept


async def one(before: bool, warm: int) -> tuple[float, float]:
    """(new session with its first execution, mean warm execution), in seconds."""
    bwrap.BwrapBackend.argv = without_remount if before else WITH_REMOUNT  # type: ignore[method-assign]
    box = Sandbox(SandboxSettings(), Path(tempfile.mkdtemp()) / "sessions")
    try:
        started = time.monotonic()
        await box.pool.execute("t", "pass")
        new = time.monotonic() - started
        started = time.monotonic()
        for _ in range(warm):
            await box.pool.execute("t", "pass")
        return new, (time.monotonic() - started) / warm
    finally:
        await box.close()


async def main(rounds: int, warm: int) -> None:
    found: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for index in range(rounds):
        for before in (index % 2 == 0, index % 2 == 1):  # each goes first every other round
            found[before].append(await one(before, warm))
    for before, samples in found.items():
        new = statistics.median(s[0] for s in samples) * 1000
        each = statistics.median(s[1] for s in samples) * 1000
        label = "before (root, /dev writable)" if before else "after (read-only)"
        print(f"{label}: new session p50 {new:.0f} ms, warm execution p50 {each:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--warm", type=int, default=50)
    options = parser.parse_args()
    asyncio.run(main(options.rounds, options.warm))
