"""Hardening round 2 (issue 11), writes under saturation: the server-wide line of quick calls
(MAX_CALLS_IN_FLIGHT, http/limits.py) serves at most its limit at once, lets writes in
before reads that came earlier (without starving them), and never loses a turn to a caller
that gave up."""

from __future__ import annotations

import asyncio

from openai_assistant_mcp.http.limits import (
    WRITES_IN_A_ROW,
    AdmissionLine,
    CallerLimiter,
    HTTPLimitSettings,
)


async def _hold(line: AdmissionLine, write: bool, order: list[str], name: str, go: asyncio.Event):
    async with line.turn(write):
        order.append(name)
        await go.wait()


async def test_the_line_serves_its_limit_at_once_and_writes_first() -> None:
    line = AdmissionLine(2)
    order: list[str] = []
    go = asyncio.Event()
    first = [asyncio.create_task(_hold(line, False, order, f"r{i}", go)) for i in range(2)]
    await asyncio.sleep(0)
    later = [asyncio.create_task(_hold(line, False, order, f"r{i}", go)) for i in range(2, 5)]
    await asyncio.sleep(0)
    writes = [asyncio.create_task(_hold(line, True, order, f"w{i}", go)) for i in range(2)]
    await asyncio.sleep(0.01)
    assert order == ["r0", "r1"] and line.waiting == 5  # two served, the rest in line
    go.set()
    await asyncio.gather(*first, *later, *writes)
    assert order == ["r0", "r1", "w0", "w1", "r2", "r3", "r4"]  # writes first, each line FIFO
    assert line.free == 2 and line.waiting == 0


async def test_a_caller_that_gives_up_in_line_or_at_its_turn_loses_no_turn() -> None:
    line = AdmissionLine(1)
    order: list[str] = []
    go = asyncio.Event()
    holder = asyncio.create_task(_hold(line, False, order, "a", go))
    await asyncio.sleep(0)
    quitter = asyncio.create_task(_hold(line, False, order, "b", go))
    late = asyncio.create_task(_hold(line, False, order, "c", go))
    await asyncio.sleep(0.01)
    quitter.cancel()  # gives up while in line
    await asyncio.gather(quitter, return_exceptions=True)
    assert line.waiting == 1
    go.set()
    await asyncio.gather(holder, late)
    assert order == ["a", "c"] and line.free == 1

    # Given its turn and cancelled before it could take it: the turn passes on.
    go.clear()
    holder = asyncio.create_task(_hold(line, False, order, "d", go))
    await asyncio.sleep(0)
    unlucky = asyncio.create_task(_hold(line, False, order, "e", go))
    next_one = asyncio.create_task(_hold(line, False, order, "f", go))
    await asyncio.sleep(0.01)
    go.set()
    await asyncio.sleep(0)  # the holder leaves and hands "e" its turn...
    unlucky.cancel()  # ...which is cancelled before it resumes
    async with asyncio.timeout(2):  # a lost turn would leave "f" waiting forever
        await asyncio.gather(holder, unlucky, next_one, return_exceptions=True)
    assert order[-1] == "f" and line.free == 1 and line.waiting == 0


async def test_only_gated_calls_wait_in_the_line() -> None:
    limiter = CallerLimiter(64, 256, 0, in_flight=1)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def long_call() -> None:
        async with limiter.slot("sk-a", gated=True):
            inside.set()
            await release.wait()

    holder = asyncio.create_task(long_call())
    await inside.wait()
    async with asyncio.timeout(1):  # a call waiting on a run is not held behind it
        async with limiter.slot("sk-b", gated=False):
            pass

    async def quick_call() -> None:
        async with limiter.slot("sk-b", gated=True):
            pass

    quick = asyncio.create_task(quick_call())
    await asyncio.sleep(0.01)
    assert not quick.done()  # a quick call waits its turn
    release.set()
    await holder
    await asyncio.wait_for(quick, 1)
    assert CallerLimiter(64, 256, 0).gate is None  # 0: no line at all
    settings = HTTPLimitSettings(MAX_CALLS_IN_FLIGHT=8)
    assert settings.limiter("tool calls", line=True).gate.limit == 8  # type: ignore[union-attr]
    assert settings.limiter("tool calls").gate is None  # a remote API's calls: no line


async def test_reads_are_not_starved_by_a_stream_of_writes() -> None:
    line = AdmissionLine(1)
    order: list[str] = []
    go = asyncio.Event()
    holder = asyncio.create_task(_hold(line, False, order, "first", go))
    await asyncio.sleep(0)
    read = asyncio.create_task(_hold(line, False, order, "read", go))
    await asyncio.sleep(0)
    writes = [asyncio.create_task(_hold(line, True, order, f"w{i}", go)) for i in range(8)]
    await asyncio.sleep(0.01)
    go.set()
    await asyncio.gather(holder, read, *writes)
    assert order.index("read") == 1 + WRITES_IN_A_ROW  # after four writes, not all eight
