"""code_interpreter sandbox benchmark: what an execution costs beyond the code's own time.

Runs `pass` (the code itself costs ~nothing) through the real session pool on bubblewrap:
- new session: sandbox + interpreter start + first execution, on a fresh key each time;
- warm: further executions in a live session;
- idle memory: resident memory of a session's processes (bwrap, its init, the driver's
  supervisor and kernel), bare and after `import numpy, pandas`;
- 8 concurrent sessions: started together, then executing together.

    uv run python bench/bench_sandbox.py [--warm 500] [--new 30] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from common import machine_lines, percentile, rss_mb, write_section

from openai_assistant_mcp.engine.sandbox import Sandbox, SandboxSettings
from openai_assistant_mcp.engine.sandbox.environment import setup

HEADING = "## code_interpreter sandbox (issue 14)"


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            pids += tree(int(child))
    return pids


def session_rss(sandbox: Sandbox, key: str) -> float:
    process = sandbox.pool.sessions[key].process
    assert process is not None
    return sum(rss_mb(pid) for pid in tree(process.pid)) / 1.048576  # MB -> MiB


async def timed(sandbox: Sandbox, key: str, code: str = "pass") -> float:
    start = time.perf_counter()
    result = await sandbox.pool.execute(key, code)
    elapsed = (time.perf_counter() - start) * 1000
    assert result.error is None, result.logs()
    return elapsed


def stats(samples: list[float]) -> str:
    return f"{percentile(samples, 50):.1f} | {percentile(samples, 99):.1f}"


async def measure(warm: int, new: int) -> dict[str, str]:
    settings = SandboxSettings(max_sessions=64)
    setup(settings, log=lambda _line: None)
    with tempfile.TemporaryDirectory() as scratch:
        sandbox = Sandbox(settings, Path(scratch))
        try:
            starts = []
            for index in range(new):
                starts.append(await timed(sandbox, f"new-{index}"))
                await sandbox.pool.end(f"new-{index}")
            await timed(sandbox, "warm")
            warms = [await timed(sandbox, "warm") for _ in range(warm)]
            idle = session_rss(sandbox, "warm")
            await timed(sandbox, "warm", "import numpy, pandas")
            idle_pandas = session_rss(sandbox, "warm")

            began = time.perf_counter()
            concurrent_starts = await asyncio.gather(*(timed(sandbox, f"c-{i}") for i in range(8)))
            all_started = (time.perf_counter() - began) * 1000

            async def loop(key: str) -> list[float]:
                return [await timed(sandbox, key) for _ in range(warm // 8)]

            began = time.perf_counter()
            per_session = await asyncio.gather(*(loop(f"c-{i}") for i in range(8)))
            elapsed = time.perf_counter() - began
            concurrent = [sample for samples in per_session for sample in samples]
        finally:
            await sandbox.close()
    return {
        "new": stats(starts),
        "warm": stats(warms),
        "idle": f"{idle:.1f}",
        "idle_pandas": f"{idle_pandas:.1f}",
        "c_start": stats(list(concurrent_starts)),
        "c_all": f"{all_started:.0f}",
        "c_warm": stats(concurrent),
        "c_rate": f"{len(concurrent) / elapsed:.0f}",
        "p50_warm": percentile(warms, 50),
        "p50_new": percentile(starts, 50),
        "idle_raw": idle,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=500)
    parser.add_argument("--new", type=int, default=30)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    r = asyncio.run(measure(args.warm, args.new))
    verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    lines = [
        HEADING,
        "",
        *machine_lines(),
        f"- {args.warm} warm executions, {args.new} new sessions; the code is `pass`, so the "
        "times are the sandbox's overhead (JSON lines over pipes, the driver, bwrap start)",
        f"- Command: `uv run python bench/bench_sandbox.py --warm {args.warm} "
        f"--new {args.new} --write`",
        "",
        "| measure | p50 ms | p99 ms | target |",
        "| --- | ---: | ---: | --- |",
        f"| execution in a new session (bwrap + interpreter start) | {r['new']} | "
        f"≤ 500 ms p50: {verdict(r['p50_new'] <= 500)} |",
        f"| warm execution | {r['warm']} | ≤ 20 ms p50: {verdict(r['p50_warm'] <= 20)} |",
        f"| 8 sessions started together (each) | {r['c_start']} | all 8 ready in {r['c_all']} ms |",
        f"| 8 sessions executing together (each execution) | {r['c_warm']} | "
        f"{r['c_rate']} executions/s in all |",
        "",
        "Idle session resident memory (bwrap, its init, the driver's supervisor and kernel): "
        f"{r['idle']} MiB "
        f"(≤ 40 MiB: {verdict(r['idle_raw'] <= 40)}); after `import numpy, pandas`: "
        f"{r['idle_pandas']} MiB.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
