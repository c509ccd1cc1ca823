"""An engine in its own OS process (uvicorn), for crash and multi-process tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.support.engine import TEST_SECRET
from tests.support.postgres import free_port
from tests.support.subprocess_env import keep_bytecode


class EngineProcess:
    """`python -m uvicorn --factory ...create_app` with settings from the environment."""

    def __init__(self, database_url: str, data_dir: Path, provider_url: str, **env: str) -> None:
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DATABASE_URL")
        }
        self.env.update(
            DATABASE_URL=database_url,
            DATA_DIR=str(data_dir),
            ENGINE_SECRET=TEST_SECRET,
            OPENAI_BASE_URL=provider_url,
            RUN_POLL_INTERVAL="0.1",
            RUN_LEASE_SECONDS="1.5",
            RUN_CLIENT_POLL_MS="20",
            PROVIDER_MAX_RETRIES="0",
            **env,
        )
        keep_bytecode(self.env)
        self.log = data_dir / f"engine-{time.monotonic_ns()}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> EngineProcess:
        return self.spawn().wait_ready()

    def spawn(self) -> EngineProcess:
        """Start the process (see `wait_ready`); several can start side by side."""
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "openai_assistant_mcp.engine.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    def wait_ready(self) -> EngineProcess:
        assert self.process is not None
        # A readiness wait, not a timing check: a cold start took ~30 s on the loaded 2-core box.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"engine exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx2.get(f"{self.url}/assistants", timeout=1).status_code == 200:
                    return self
            except httpx2.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("engine did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown, leases left as they were."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def engines() -> Iterator[list[EngineProcess]]:
    """Engine processes a test starts (append them here); stopped when it ends."""
    started: list[EngineProcess] = []
    yield started
    for engine in started:
        engine.stop()
