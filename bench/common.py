"""Helpers shared by the benchmark scripts in bench/ (run as `uv run python bench/bench_X.py`,
which puts bench/ on sys.path, so they `from common import ...`)."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import re
import socket
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "RESULTS.md"


def percentile(samples: list[float], q: float) -> float:
    """The sample at the q-th percentile (q from 0 to 100), nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines() -> list[str]:
    """The date, machine and Python lines that head a results section."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}; "
        f"load average at the end {load}",
        f"- Python {platform.python_version()}, {platform.system()} {platform.release()}",
    ]


def write_section(heading: str, text: str) -> None:
    """Replace (or append) the `heading` section of RESULTS.md with `text`, keeping the others."""
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(existing):
        updated = pattern.sub(lambda _: text + "\n", existing)
    else:
        updated = existing.rstrip("\n") + "\n\n" + text + "\n"
    RESULTS.write_text(updated)


Measure = Callable[[str | None, int], dict[str, Any]]


def measure_on_postgres(measure: Measure, count: int, name: str) -> dict[str, Any]:
    """`measure` on a fresh database of a throw-away PostgreSQL (the tests' server)."""
    sys.path.insert(0, str(Path(__file__).parents[1]))  # the repository root, for tests/
    from tests.support.postgres import PostgresServer

    server = PostgresServer.start()
    try:
        results = measure(asyncio.run(server.new_database_url(name)), count)
        version = (server.bin_dir.parent.name or "?").strip()
        results["database"] += f" (PostgreSQL {version}, fsync off as in the tests)"
        return results
    finally:
        server.stop()


def measure_and_report(
    args: argparse.Namespace,
    measure: Measure,
    report: Callable[[list[tuple[str, dict[str, Any]]], int], str],
    heading: str,
    name: str,
) -> None:
    """A bench's main after its flags: `measure` on SQLite (or --database-url) and, with
    --postgres, on PostgreSQL; print the report; with --write, put it in RESULTS.md."""
    # The SDK marks client.beta.* (the Assistants API) deprecated; that is the API measured.
    warnings.simplefilter("ignore", DeprecationWarning)
    title = "Given database" if args.database_url else "SQLite (the default store)"
    measured = [(title, measure(args.database_url, args.count))]
    if args.postgres:
        measured.append(("PostgreSQL", measure_on_postgres(measure, args.count, name)))
    text = report(measured, args.count)
    print(text)
    if args.write:
        write_section(heading, text)
        print(f"wrote {RESULTS}")


def start_provider(
    delay: float = 0.0, behaviour: str | None = None
) -> tuple[subprocess.Popen[str], str]:
    """The scripted provider (tests/support) in a child process, answering every call after
    `delay` s (or with `behaviour`, a scripted_provider expression such as "FileSearchAgent()");
    returns the child and its base URL."""
    behaviour = behaviour or f"Echo(delay={delay})"
    code = (
        "import sys\n"
        "from tests.support.scripted_provider import *\n"
        f"p = ScriptedProvider().start(); p.forever({behaviour})\n"
        "print(p.base_url, flush=True)\n"
        "sys.stdin.read()\n"  # until the parent closes our stdin
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def stop_provider(child: subprocess.Popen[str]) -> None:
    """Stop a child from start_provider: it exits when its stdin closes."""
    assert child.stdin is not None
    child.stdin.close()
    child.wait(10)
