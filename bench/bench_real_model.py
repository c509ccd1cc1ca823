"""Run overhead against a real model server, next to the scripted provider's, measured alike and
in the same minutes: bench_runs.py's method (a streamed `create_and_run` until the run's end,
minus the p50 of the same streamed completion sent to the provider directly), the engine
in-process on SQLite. The real server is llama-cpp-python's with SmolLM2-135M-Instruct at
temperature 0 (greedy: the same answer every time), prepared by scripts/real_model_env.sh:

    eval "$(bash scripts/real_model_env.sh)"
    uv run python bench/bench_real_model.py [--count N] [--write]

--write replaces the "Runs against a real model server (issue 16)" section of bench/RESULTS.md."""

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

from openai_assistant_mcp.engine.app import create_app
from openai_assistant_mcp.engine.settings import EngineSettings

HEADING = "## Runs against a real model server (issue 16)"
MODEL = "smollm2-135m"


def start_llama_server() -> tuple[subprocess.Popen[bytes], str]:
    python, gguf = os.environ.get("REAL_MODEL_PYTHON"), os.environ.get("REAL_MODEL_GGUF")
    if not (python and gguf):
        sys.exit('no real model: run `eval "$(bash scripts/real_model_env.sh)"` first')
    port = free_port()
    child = subprocess.Popen(
        [python, "-m", "llama_cpp.server", "--model", gguf, "--model_alias", MODEL,
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{url}/models", timeout=2).status_code == 200:
                return child, url
        except httpx2.TransportError:
            time.sleep(0.25)
    child.kill()
    sys.exit("llama_cpp.server did not start within 120 s")


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
            "PROVIDER_COMPAT": "max_tokens,tool_call_content",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="timed runs per provider")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    measured: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        llama, llama_url = start_llama_server()
        try:
            measured.append(
                (
                    "llama-cpp-python + SmolLM2-135M",
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
