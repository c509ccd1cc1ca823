"""Hardening round 2 (issue 11), storage exhaustion: a full disk (a real one: a small tmpfs) and a
SQLite database locked by another process answer 503 with Retry-After and a clear message,
change nothing, and the server works again once the condition passes. A run whose final write
meets a full disk keeps its answer: stored once space is back, or the run fails saying storage
failed (never the misleading "caller's key" message)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.mcp.servers import ServerProcess, free_port, running_server, server_env
from tests.support.scripted_provider import ScriptedProvider, Text

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
    with (
        _api(data, tmp_path / "server.log", DATABASE_LOCK_TIMEOUT="1") as server,
        httpx2.Client(base_url=server.url("/v1"), headers=HEADERS, timeout=30) as http,
    ):
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


def _fill(disk: Path) -> Path:
    """Take every free byte of `disk`; remove the returned file to give them back."""
    filler = disk / "filler"
    # Unbuffered: a buffered file's close would write the refused bytes again (ENOSPC).
    with filler.open("wb", buffering=0) as out:
        chunk = b"\0" * 65536
        try:
            while out.write(chunk):  # partial writes, then ENOSPC (or 0) once full
                pass
        except OSError:
            pass
    return filler


def test_a_full_disk_answers_503_and_recovers(tmp_path: Path, small_disk: Path) -> None:
    with (
        _api(small_disk / "data", tmp_path / "server.log") as server,
        httpx2.Client(base_url=server.url("/v1"), headers=HEADERS, timeout=30) as http,
    ):
        assert http.post("/assistants", json={"model": "m", "name": "kept"}).status_code == 200
        filler = _fill(small_disk)
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


# A long answer (~120 KB: its final write needs fresh pages), streamed over ~3 s.
ANSWER = " ".join(f"w{i:03d}" + "x" * 2000 for i in range(60))


def _run_until_streamed(http: httpx2.Client, provider: ScriptedProvider) -> tuple[str, str]:
    """Start a run and wait until it is stored in_progress; (thread id, run id)."""
    assistant = http.post("/assistants", json={"model": "m"}).json()["id"]
    thread = http.post("/threads", json={"messages": [{"role": "user", "content": "talk"}]}).json()[
        "id"
    ]
    run = http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}).json()["id"]
    _wait_run(http, thread, run, lambda body: body["status"] == "in_progress")
    assert provider.requests and not provider.requests[0].finished
    return thread, run


def _wait_run(http: httpx2.Client, thread: str, run: str, done, within: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        body = http.get(f"/threads/{thread}/runs/{run}").json()
        if done(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def _wait_streamed(provider: ScriptedProvider) -> None:
    deadline = time.monotonic() + 120  # a bound for a hang: slow only on a loaded machine
    while not provider.requests[0].finished:
        assert time.monotonic() < deadline, "the provider never finished its answer"
        time.sleep(0.05)


def _wait_logged(server: ServerProcess, line: str, times: int) -> None:
    """Until the server has logged `line` `times` times: what the engine did, counted, rather
    than a fixed time (on a busy machine the engine's retries come later, and so does this)."""
    deadline = time.monotonic() + 120
    while server.log().count(line) < times:
        assert time.monotonic() < deadline, f"{line!r} logged under {times} times"
        time.sleep(0.05)


def _answer_kept(http: httpx2.Client, thread: str) -> str:
    found = http.get(f"/threads/{thread}/messages").json()["data"]
    said = [m for m in found if m["role"] == "assistant"]
    assert len(said) == 1, found
    return said[0]["content"][0]["text"]["value"]


def _store_env(provider: ScriptedProvider, retry: str) -> dict[str, str]:
    # A short lease: the old engine took a run whose end it failed to store for a dead
    # process's and failed it with the "caller's key" message as soon as the lease ran out.
    return {
        "OPENAI_BASE_URL": provider.base_url,
        "RUN_LEASE_SECONDS": "2",
        "RUN_POLL_INTERVAL": "0.2",
        "RUN_END_RETRY_SECONDS": retry,
    }


def test_a_run_whose_end_meets_a_full_disk_keeps_its_answer(
    tmp_path: Path, small_disk: Path
) -> None:
    with ScriptedProvider() as provider:
        provider.script(Text(ANSWER, chunk_delay=0.05))
        env = _store_env(provider, retry="60")
        with (
            _api(small_disk / "data", tmp_path / "server.log", **env) as server,
            httpx2.Client(base_url=server.url("/v1"), headers=HEADERS, timeout=30) as http,
        ):
            thread, run = _run_until_streamed(http, provider)
            filler = _fill(small_disk)
            _wait_streamed(provider)
            # The end is refused (disk full) and retried, backing off 0.1, 0.2, 0.4, 0.8 and
            # 1.6 s: the sixth refusal comes over 3 s after the first, the 2 s lease long out.
            _wait_logged(server, "could not store the end of run", 6)
            body = http.get(f"/threads/{thread}/runs/{run}").json()
            assert body["status"] == "in_progress", body["last_error"]
            os.remove(filler)
            body = _wait_run(http, thread, run, lambda b: b["status"] != "in_progress")
            assert body["status"] == "completed", body["last_error"]
            assert _answer_kept(http, thread) == ANSWER
            assert "could not store the end of run" in server.log()
            assert "Traceback" not in server.log()


def test_a_run_whose_end_cannot_be_stored_fails_saying_storage_failed(
    tmp_path: Path, small_disk: Path
) -> None:
    with ScriptedProvider() as provider:
        provider.script(Text(ANSWER, chunk_delay=0.05))
        env = _store_env(provider, retry="1")
        with (
            _api(small_disk / "data", tmp_path / "server.log", **env) as server,
            httpx2.Client(base_url=server.url("/v1"), headers=HEADERS, timeout=30) as http,
        ):
            thread, run = _run_until_streamed(http, provider)
            filler = _fill(small_disk)
            _wait_streamed(provider)
            # Past the 1 s of retries, the failed end is refused too, then retried at each
            # 0.2 s poll (two attempts each): 30 refusals span over 2.8 s, past the 2 s lease.
            _wait_logged(server, "end not stored", 30)
            assert http.get(f"/threads/{thread}/runs/{run}").json()["status"] == "in_progress"
            os.remove(filler)
            body = _wait_run(http, thread, run, lambda b: b["status"] != "in_progress")
            assert body["status"] == "failed"
            error = body["last_error"]
            assert error["code"] == "server_error"
            assert "the database's disk is full" in error["message"]
            assert "key" not in error["message"]
            assert _answer_kept(http, thread) == ANSWER  # stored with the failure
            assert "Traceback" not in server.log()
