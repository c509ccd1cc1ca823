"""`serve_api` in its own process: announces URL and database (no password), then serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import openai

SCRIPT = """
import sys
from openai_assistant_mcp.engine.serve import serve_api
from openai_assistant_mcp.engine.settings import EngineSettings
settings = EngineSettings.model_validate(
    {"DATA_DIR": sys.argv[1], "DATABASE_URL": sys.argv[2] or None}
)
serve_api(settings, host="127.0.0.1", port=0)
"""


def _start(data_dir: Path, database_url: str) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OPENAI_API_KEY")}
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(data_dir), database_url],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    lines = [process.stderr.readline(), process.stderr.readline()]
    return process, lines


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def test_serve_api_announces_and_serves_sqlite(tmp_path: Path) -> None:
    process, lines = _start(tmp_path, "")
    try:
        assert lines[0].startswith("Assistants API listening on http://127.0.0.1:"), lines
        url = lines[0].split(" on ", 1)[1].strip()
        assert url.endswith("/v1")
        assert lines[1].strip() == f"Database: sqlite+aiosqlite:///{tmp_path / 'assistants.db'}"
        async with openai.AsyncOpenAI(api_key="sk-test-serve", base_url=url) as live:
            created = await live.beta.assistants.create(model="gpt-4o")
            assert (await live.beta.assistants.retrieve(created.id)).id == created.id
    finally:
        _stop(process)
    assert process.returncode == 0


async def test_serve_api_hides_the_database_password(
    tmp_path: Path, new_database_url: Callable[[str], Awaitable[str]]
) -> None:
    url = (await new_database_url("postgres")).replace("postgres@", "postgres:hunter2@", 1)
    process, lines = _start(tmp_path, url)
    try:
        assert lines[0].startswith("Assistants API listening on http://127.0.0.1:"), lines
        assert "hunter2" not in lines[1] and lines[1].startswith("Database: postgresql+asyncpg://")
        assert "postgres:***@" in lines[1]
    finally:
        _stop(process)
