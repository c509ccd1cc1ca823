"""Files benchmark: the engine's resident memory while a large file goes in and out.

Starts `openai-assistant-mcp api` (the REST API on a socket, with its guard) in a child
process, then: uploads a file of --mb MB through POST /v1/files (multipart, streamed from
disk), downloads it through GET /v1/files/{id}/content (streamed), and sends it again through
the Uploads API in 64 MB parts; samples the server's RSS every 20 ms throughout.

    uv run python bench/bench_files.py [--mb 200] [--postgres] [--write]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
from common import ROOT, machine_lines, measure_and_report, rss_mb

HEADING = "## Files: memory while uploading and downloading (issue 12)"
TARGET_MIB = 32
PART = 64 * 1024 * 1024


class RSSSampler:
    """Peak RSS of a process between start() and stop()."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> RSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def start_api(database_url: str, data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(data_dir)}
    env["HTTP_READ_TIMEOUT"] = "60"
    child = subprocess.Popen(
        [sys.executable, "-m", "openai_assistant_mcp", "api", "--port", "0"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    for line in child.stderr:
        if "listening on" in line:
            return child, line.rsplit(" ", 1)[1].strip()
    raise RuntimeError("the API did not start")


def make_file(path: Path, megabytes: int) -> str:
    """A file of pseudo-random bytes; answers its md5."""
    digest = hashlib.md5(usedforsecurity=False)
    block = os.urandom(1024 * 1024)
    with path.open("wb") as fh:
        for i in range(megabytes):
            piece = block[i % 256 :] + block[: i % 256]
            fh.write(piece)
            digest.update(piece)
    return digest.hexdigest()


def measure(database_url: str | None, megabytes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = database_url or f"sqlite+aiosqlite:///{data_dir / 'assistants.db'}"
        path = data_dir / "big.bin"
        md5 = make_file(path, megabytes)
        child, base = start_api(url, data_dir)
        try:
            return run(child.pid, base, path, md5, megabytes) | {"database": url.split(":")[0]}
        finally:
            child.terminate()
            child.wait(30)


def run(pid: int, base: str, path: Path, md5: str, megabytes: int) -> dict[str, Any]:
    headers = {"Authorization": "Bearer sk-bench-files"}
    size = path.stat().st_size
    with httpx2.Client(base_url=base, headers=headers, timeout=600) as http:
        # Warm up: one small file in and out, so the baseline includes the code paths' imports.
        small = http.post("/files", data={"purpose": "assistants"}, files={"file": ("s", b"x")})
        small.raise_for_status()
        http.get(f"/files/{small.json()['id']}/content").raise_for_status()
        baseline = rss_mb(pid)

        started = time.perf_counter()
        with RSSSampler(pid) as upload, path.open("rb") as fh:
            created = http.post(
                "/files", data={"purpose": "assistants"}, files={"file": ("big.bin", fh)}
            )
        created.raise_for_status()
        upload_s = time.perf_counter() - started
        file_id = created.json()["id"]
        assert created.json()["bytes"] == size

        started = time.perf_counter()
        digest = hashlib.md5(usedforsecurity=False)
        with RSSSampler(pid) as download, http.stream("GET", f"/files/{file_id}/content") as got:
            got.raise_for_status()
            for chunk in got.iter_bytes():
                digest.update(chunk)
        download_s = time.perf_counter() - started
        assert digest.hexdigest() == md5, "downloaded bytes differ"

        started = time.perf_counter()
        with RSSSampler(pid) as parts, path.open("rb") as fh:
            upload_id = http.post(
                "/uploads",
                json={
                    "filename": "big.bin",
                    "purpose": "assistants",
                    "bytes": size,
                    "mime_type": "application/octet-stream",
                },
            ).json()["id"]
            part_ids = []
            while piece := fh.read(PART):
                part = http.post(f"/uploads/{upload_id}/parts", files={"data": ("p", piece)})
                part.raise_for_status()
                part_ids.append(part.json()["id"])
                del piece
            done = http.post(
                f"/uploads/{upload_id}/complete", json={"part_ids": part_ids, "md5": md5}
            )
            done.raise_for_status()
        parts_s = time.perf_counter() - started
    return {
        "baseline": baseline,
        "upload_peak": upload.peak,
        "download_peak": download.peak,
        "parts_peak": parts.peak,
        "upload_mb_s": megabytes / upload_s,
        "download_mb_s": megabytes / download_s,
        "parts_mb_s": megabytes / parts_s,
    }


def report(measured: list[tuple[str, dict[str, Any]]], megabytes: int) -> str:
    lines = [
        HEADING,
        "",
        f"`uv run python bench/bench_files.py --mb {megabytes} --postgres --write`: the API on a",
        f"socket (`openai-assistant-mcp api`, child process), a {megabytes} MB file streamed in",
        "and out; RSS of the server process sampled every 20 ms. Target: each adds at most",
        f"{TARGET_MIB} MiB over the warmed-up baseline, whatever the file size.",
        *machine_lines(),
        "",
        "| store | baseline RSS | upload (POST /files) | download (content) "
        "| Uploads API, 64 MB parts + md5 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for title, r in measured:
        base = r["baseline"]

        def cell(peak: float, speed: float, base: float = base) -> str:
            added = peak - base
            mark = "ok" if added <= TARGET_MIB else "OVER"
            return f"+{added:.1f} MiB ({mark}), {speed:.0f} MB/s"

        lines.append(
            f"| {title} | {base:.0f} MiB | {cell(r['upload_peak'], r['upload_mb_s'])} "
            f"| {cell(r['download_peak'], r['download_mb_s'])} "
            f"| {cell(r['parts_peak'], r['parts_mb_s'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", dest="count", type=int, default=200)
    parser.add_argument("--database-url")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--write", action="store_true")
    measure_and_report(parser.parse_args(), measure, report, HEADING, "bench_files")


if __name__ == "__main__":
    main()
