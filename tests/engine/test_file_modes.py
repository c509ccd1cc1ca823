"""The store's files are the owner's alone: a fresh store is 0600 files in a 0700 directory,
and an existing store left readable by an older version is tightened at start, with a log
line."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from tests.support.engine import engine_settings, running_app

SQLITE_FILES = ("assistants.db", "assistants.db-wal", "assistants.db-shm", "secret.key")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _settings(data_dir: Path):  # a store in data_dir, with the secret generated there
    settings = engine_settings(f"sqlite+aiosqlite:///{data_dir / 'assistants.db'}", data_dir)
    return settings.model_copy(update={"tenant_secret": None})


async def _write_something(app) -> None:
    from tests.support.engine import asgi_http_client

    async with asgi_http_client(app) as http:
        answer = await http.post("/v1/assistants", json={"model": "m"})
        assert answer.status_code == 200, answer.text


async def test_a_fresh_store_is_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    old_umask = os.umask(0o022)  # the usual umask, which would give 0644 and 0755
    try:
        async with running_app(_settings(data_dir)) as app:
            await _write_something(app)
            assert _mode(data_dir) == 0o700
            for name in SQLITE_FILES:
                assert _mode(data_dir / name) == 0o600, name
    finally:
        os.umask(old_umask)


async def test_an_existing_readable_store_is_tightened_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    async with running_app(_settings(data_dir)) as app:
        await _write_something(app)
    data_dir.chmod(0o755)
    loose = [path for path in data_dir.iterdir() if path.is_file()]
    for path in loose:
        path.chmod(0o644)
    assert data_dir / "assistants.db" in loose

    caplog.set_level(logging.WARNING, logger="openai_assistant_mcp.engine.store.files")
    async with running_app(_settings(data_dir)) as app:
        await _write_something(app)
        assert _mode(data_dir) == 0o700
        for path in data_dir.iterdir():
            assert _mode(path) == 0o600, path.name
    tightened = [r.getMessage() for r in caplog.records if "tightened" in r.getMessage()]
    assert any(str(data_dir / "assistants.db") in line and "0644" in line for line in tightened)
    assert any(line.startswith(f"tightened {data_dir} from 0755 to 0700") for line in tightened)
