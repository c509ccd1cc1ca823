"""Hardening round 2 (issue 11), storage exhaustion: a full disk (a real one: a small tmpfs) and a
SQLite database locked by another process answer 503 with Retry-After and a clear message,
change nothing, and the server works again once the condition passes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.mcp.servers import free_port, running_server, server_env

HEADERS = {"Authorization": "Bearer sk-store", "OpenAI-Beta": "assistants=v2"}


def _api(data_dir: Path, log: Path, **env: str):  # type: ignore[no-untyped-def]
    port = str(free_port())
    return running_server(["api", "--port", port], server_env(data_dir, **env), log)


def _unavailable(answer: httpx2.Response, cause: str) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) >= 1
    error = answer.json()["error"]
    assert error["code"] == "store_unavailable"
    assert cause in error["message"] and "retry" in error["message"]


def test_a_database_locked_by_another_process_answers_503(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with _api(data, tmp_path / "server.log", DATABASE_LOCK_TIMEOUT="1") as server:
        http = httpx2.Client(base_url=server.url("/v1"), headers=HEADERS, timeout=30)
        made = http.post("/assistants", json={"model": "m", "name": "before"})
        assert made.status_code == 200
        holder = sqlite3.connect(data / "assistants.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write transaction, held
        try:
            answer = http.post("/assistants", json={"model": "m", "name": "during"})
            _unavailable(answer, "the database is locked by another process")
            assert http.get("/assistants").status_code == 200  # reads go on (WAL)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert http.post("/assistants", json={"model": "m", "name": "after"}).status_code == 200
        names = [a["name"] for a in http.get("/assistants", params={"order": "asc"}).json()["data"]]
        assert names == ["before", "after"]  # nothing half-written
        assert "Traceback" not in server.log()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (needs root; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_answers_503_and_recovers(tmp_path: Path, small_disk: Path) -> None:
    with _api(small_disk / "data", tmp_path / "server.log") as server:
        http = httpx2.Client(base_url=server.url("/v1"), headers=HEADERS, timeout=30)
        assert http.post("/assistants", json={"model": "m", "name": "kept"}).status_code == 200
        filler = small_disk / "filler"
        with filler.open("wb") as out:  # take every free byte
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        big = {"model": "m", "instructions": "i" * 200_000}
        answers = [http.post("/assistants", json=big) for _ in range(20)]
        refused = [a for a in answers if a.status_code != 200]
        assert refused, "the disk never filled up"
        for answer in refused:
            _unavailable(answer, "the database's disk is full")
        os.remove(filler)
        assert http.post("/assistants", json={"model": "m", "name": "later"}).status_code == 200
        names = {a["name"] for a in http.get("/assistants", params={"limit": 100}).json()["data"]}
        assert {"kept", "later"} <= names
        assert "Traceback" not in server.log()
