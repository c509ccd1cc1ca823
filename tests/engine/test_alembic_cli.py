"""Alembic from the command line (`uv run alembic ...` at the repository root, docs/migrations.md):
it migrates the database of DATABASE_URL (else DATA_DIR's SQLite) to the same schema the engine
migrates to at start, the models and the migrations agree, and downgrades run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.support.engine import SpecViolations, engine_settings, openai_client, running_app
from tests.support.subprocess_env import keep_bytecode

REPO = Path(__file__).resolve().parents[2]
ALEMBIC = str(Path(sys.executable).with_name("alembic"))


def alembic(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`alembic <args>` at the repository root, with only the given engine settings."""
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_DIR")}
    return subprocess.run(
        [ALEMBIC, *args],
        cwd=REPO,
        env=keep_bytecode({**clean, **env}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def head() -> str:
    done = alembic("heads")
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[0]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_upgrade_check_and_downgrade_from_the_command_line(
    backend: str,
    new_database_url: Callable[[str], Awaitable[str]],
    tmp_path: Path,
    spec_violations: SpecViolations,
) -> None:
    url = await new_database_url(backend)
    upgraded = alembic("upgrade", "head", DATABASE_URL=url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running upgrade  -> 0001" in upgraded.stderr
    current = alembic("current", DATABASE_URL=url)
    assert current.stdout.strip() == f"{head()} (head)", current.stderr
    # The migrations build exactly the schema tables.py describes.
    checked = alembic("check", DATABASE_URL=url)
    assert checked.returncode == 0, checked.stderr + checked.stdout

    # The engine starts on the migrated database with nothing left to do, and works.
    async with running_app(engine_settings(url, tmp_path)) as app:
        client = openai_client(app, "sk-test-alembic-cli", spec_violations)
        assert (await client.beta.assistants.create(model="gpt-4o")).id.startswith("asst_")
        await client.close()

    downgraded = alembic("downgrade", "base", DATABASE_URL=url)
    assert downgraded.returncode == 0, downgraded.stderr
    assert alembic("current", DATABASE_URL=url).stdout.strip() == ""
    assert alembic("upgrade", "head", DATABASE_URL=url).returncode == 0


def test_without_database_url_it_migrates_the_default_sqlite_in_data_dir(tmp_path: Path) -> None:
    done = alembic("upgrade", "head", DATA_DIR=str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "assistants.db").stat().st_size > 0
    assert alembic("current", DATA_DIR=str(tmp_path / "data")).stdout.strip().endswith("(head)")
