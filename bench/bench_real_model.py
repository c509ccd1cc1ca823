"""Against a real model server: the run overhead next to the scripted provider's (default), or
the task suite of real_model_tasks.py (`--tasks`: what a small model manages through the tools,
issue 23). The server is llama.cpp's (the prebuilt xllamacpp wheel, scripts/llama_server.py)
with Qwen2.5-Coder-0.5B-Instruct and an 8,192-token window, prepared by
scripts/real_model_env.sh:

    eval "$(bash scripts/real_model_env.sh)"
    uv run python bench/bench_real_model.py [--count N] [--write]
    uv run python bench/bench_real_model.py --tasks 5 [--label after] [--write]

The overhead runs are at temperature 0 (greedy: the same answer every time), bench_runs.py's
method (a streamed `create_and_run` until the run's end, minus the p50 of the same streamed
completion sent to the provider directly), the engine in-process on SQLite. --write replaces
the section of bench/RESULTS.md (the task suite's row set named by --label)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import httpx2
import openai
from bench_runs import QUESTION, engine_client, streamed_run
from common import (
    free_port,
    machine_lines,
    percentile,
    start_provider,
    stop_provider,
    write_section,
)
from real_model_tasks import Flow, run_suite

from openai_assistant_mcp.engine.app import create_app
from openai_assistant_mcp.engine.settings import EngineSettings

HEADING = "## Runs against a real model server (issue 16)"
TASKS_HEADING = "## A small local model's task suite (issue 23)"
MODEL = "qwen2.5-coder-0.5b"


def start_llama_server() -> tuple[subprocess.Popen[bytes], str]:
    python, gguf = os.environ.get("REAL_MODEL_PYTHON"), os.environ.get("REAL_MODEL_GGUF")
    launcher = os.environ.get("REAL_MODEL_SERVER")
    if not (python and gguf and launcher):
        sys.exit('no real model: run `eval "$(bash scripts/real_model_env.sh)"` first')
    port = free_port()
    threads = os.environ.get("REAL_MODEL_THREADS", "1")
    child = subprocess.Popen(
        [python, launcher, "--model", gguf, "--alias", MODEL, "--port", str(port),
         "--ctx-size", "8192", "--threads", threads],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return child, f"http://127.0.0.1:{port}/v1"
        except httpx2.TransportError:
            pass
        time.sleep(0.25)
    child.kill()
    sys.exit("llama_server did not start within 120 s")


async def direct_completion(provider: openai.AsyncOpenAI) -> float:
    start = time.perf_counter()
    stream = await provider.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": QUESTION}],
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for _ in stream:
        pass
    return time.perf_counter() - start


async def measure(provider_url: str, data_dir: Path, count: int) -> dict[str, list[float]]:
    settings = EngineSettings.model_validate(
        {
            "DATA_DIR": data_dir,
            "DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'assistants.db'}",
            "ENGINE_SECRET": "bench-secret",
            "OPENAI_BASE_URL": provider_url,
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        client = engine_client(app)
        provider = openai.AsyncOpenAI(base_url=provider_url, api_key="sk-bench-real")
        assistant = await client.beta.assistants.create(model=MODEL, temperature=0)
        for _ in range(5):  # warm-up: connections, the server's prompt cache
            await streamed_run(client, assistant.id)
            await direct_completion(provider)
        runs, direct = [], []
        for _ in range(count):  # taking turns, so load elsewhere falls on both alike
            runs.append(await streamed_run(client, assistant.id) * 1000)
            direct.append(await direct_completion(provider) * 1000)
        await client.close()
        await provider.close()
    return {"run_ms": runs, "provider_ms": direct}


def rows(title: str, results: dict[str, list[float]]) -> list[str]:
    runs, direct = results["run_ms"], results["provider_ms"]
    overhead = [r - percentile(direct, 50) for r in runs]
    out = []
    for name, samples in (
        ("run, create -> completed", runs),
        ("provider alone (direct call)", direct),
        ("run overhead (run - provider p50)", overhead),
    ):
        out.append(
            f"| {title} | {name} | {percentile(samples, 50):.2f} | "
            f"{percentile(samples, 99):.2f} | {statistics.mean(samples):.2f} |"
        )
    return out


async def tasks(
    provider_url: str, data_dir: Path, attempts: int, only: str, transcripts: Path | None
) -> list[Flow]:
    settings = EngineSettings.model_validate(
        {
            "DATA_DIR": data_dir,
            "DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'assistants.db'}",
            "ENGINE_SECRET": "bench-secret",
            "OPENAI_BASE_URL": provider_url,
            "PROVIDER_TIMEOUT": 600,
            "RUN_EXPIRES_AFTER": 300,  # no attempt runs longer (real_model_tasks.py)
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        client = engine_client(app)
        try:
            return await run_suite(client, MODEL, attempts, only, transcripts)
        finally:
            await client.close()


def task_report(label: str, flows: list[Flow], attempts: int, only: str = "") -> str:
    load = os.getloadavg()
    lines = [
        f"{TASKS_HEADING}: {label}",
        "",
        *machine_lines(),
        f"- Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (2 cores "
        "shared with other work: times are slow and noisy)",
        '- Command: `eval "$(bash scripts/real_model_env.sh)"; '
        f"uv run python bench/bench_real_model.py --tasks {attempts}"
        + (f' --only "{only}"' if only else "")
        + f' --label "{label}" --write`',
        "",
        "| flow | succeeded | median s | what happened |",
        "| --- | ---: | ---: | --- |",
        *[flow.row() for flow in flows],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="timed runs per provider")
    parser.add_argument("--tasks", type=int, default=0, help="task suite: attempts per flow")
    parser.add_argument("--only", default="", help="the flows whose names contain this")
    parser.add_argument("--label", default="after", help="the task suite's section name")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument(
        "--transcripts", type=Path, help="save each attempt's runs, steps and messages here"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    if args.tasks:
        with tempfile.TemporaryDirectory(prefix="bench-tasks-") as tmp:
            llama, llama_url = start_llama_server()
            try:
                if args.transcripts:
                    args.transcripts.mkdir(parents=True, exist_ok=True)
                flows = asyncio.run(
                    tasks(llama_url, Path(tmp), args.tasks, args.only, args.transcripts)
                )
            finally:
                llama.terminate()
                llama.wait(30)
        text = task_report(args.label, flows, args.tasks, args.only)
        print(text)
        if args.write:
            write_section(f"{TASKS_HEADING}: {args.label}", text)
        return
    measured: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        llama, llama_url = start_llama_server()
        try:
            measured.append(
                (
                    "llama.cpp (xllamacpp) + Qwen2.5-Coder-0.5B",
                    asyncio.run(measure(llama_url, Path(tmp) / "real", args.count)),
                )
            )
        finally:
            llama.terminate()
            llama.wait(30)
        scripted, scripted_url = start_provider(0.0)
        try:
            measured.append(
                (
                    "scripted provider",
                    asyncio.run(measure(scripted_url, Path(tmp) / "scripted", args.count)),
                )
            )
        finally:
            stop_provider(scripted)
    lines = [
        HEADING,
        "",
        *machine_lines(),
        "- Engine in-process on SQLite (official openai SDK over the streaming ASGI transport); "
        "each provider in its own process on loopback",
        '- Command: `eval "$(bash scripts/real_model_env.sh)"; '
        "uv run python bench/bench_real_model.py --write`",
        "",
        f"{args.count} streamed `create_and_run` runs per provider after 5 warm-up runs, taking "
        "turns with the same streamed completion sent to the provider directly (temperature 0: "
        "the real model gives the same answer every time); overhead = run - provider p50.",
        "",
        "| provider | measure | p50 ms | p99 ms | mean ms |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for title, results in measured:
        lines += rows(title, results)
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(HEADING, text)


if __name__ == "__main__":
    main()
