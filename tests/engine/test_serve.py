"""`serve_api` in its own process: announces URL and database (no password), then serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import openai

from tests.support.subprocess_env import keep_bytecode

SCRIPT = """
import sys
from openai_assistant_mcp.engine.serve import serve_api
from openai_assistant_mcp.engine.settings import EngineSettings
settings = EngineSettings.model_validate(
    {"DATA_DIR": sys.argv[1], "DATABASE_URL": sys.argv[2] or None}
)
serve_api(settings, host="127.0.0.1", port=0)
"""


def _launch(data_dir: Path, database_url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OPENAI_API_KEY")}
    # A provider that needs no key, so start-up has no warning to print before its announcement.
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    keep_bytecode(env)
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(data_dir), database_url],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _announcement(process: subprocess.Popen[str]) -> list[str]:
    """The "listening" line and the one after it; start-up warnings before them (e.g. a
    PostgreSQL without pgvector) are passed over."""
    assert process.stderr is not None
    for _ in range(20):
        line = process.stderr.readline()
        if line.startswith("Assistants API listening") or not line:
            return [line, process.stderr.readline()]
    raise AssertionError("no 'Assistants API listening' line among the first 20")


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def test_serve_api_announces_and_serves(
    tmp_path: Path, new_database_url: Callable[[str], Awaitable[str]]
) -> None:
    """Two servers started side by side (start-up is most of the cost): the default SQLite
    store, and PostgreSQL through a URL with a password, which must not be printed."""
    postgres_url = (await new_database_url("postgres")).replace("postgres@", "postgres:hunter2@")
    sqlite_dir, postgres_dir = tmp_path / "sqlite", tmp_path / "postgres"
    processes = [_launch(sqlite_dir, ""), _launch(postgres_dir, postgres_url)]
    try:
        (listening, database), (pg_listening, pg_database) = map(_announcement, processes)
        assert listening.startswith("Assistants API listening on http://127.0.0.1:"), listening
        assert database.strip() == f"Database: sqlite+aiosqlite:///{sqlite_dir / 'assistants.db'}"
        assert pg_listening.startswith("Assistants API listening on http://127.0.0.1:")
        assert pg_database.startswith("Database: postgresql+asyncpg://postgres:***@127.0.0.1:")
        assert "hunter2" not in pg_database
        for line in (listening, pg_listening):
            url = line.split(" on ", 1)[1].strip()
            assert url.endswith("/v1")
            async with openai.AsyncOpenAI(api_key="sk-test-serve", base_url=url) as live:
                created = await live.beta.assistants.create(model="gpt-4o")
                assert (await live.beta.assistants.retrieve(created.id)).id == created.id
    finally:
        for process in processes:
            _stop(process)
    assert [process.returncode for process in processes] == [0, 0]  # Ctrl-C is a clean exit
