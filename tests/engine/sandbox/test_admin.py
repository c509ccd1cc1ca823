"""`openai-assistant-mcp sandbox setup|check` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys

from openai_assistant_mcp.engine.sandbox import SandboxSettings
from openai_assistant_mcp.engine.sandbox.cgroups import detect as detect_cgroups


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openai_assistant_mcp", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_setup_is_idempotent(sandbox_settings: SandboxSettings) -> None:
    done = cli("sandbox", "setup")
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout and f"ready: {sandbox_settings.venv}" in done.stdout


def test_check_runs_the_probes_and_says_what_is_isolated(sandbox_settings: SandboxSettings) -> None:
    done = cli("sandbox", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all probes held" in done.stdout and "FAIL" not in done.stdout
    for fact in ("own PID, network", "environment: cleared", "32 processes", "fork bomb"):
        assert fact in done.stdout
    # How the session as a whole is bounded here: by which cgroup, or why by none.
    host = detect_cgroups()
    expected = "per session: none by cgroup" if isinstance(host, str) else host.describe()
    assert expected in done.stdout
    assert (
        "keyrings, io_uring and netlink sockets refused" in done.stdout
        and "/mnt/data: " in done.stdout
    )


def test_check_without_bwrap_fails_naming_the_package(tmp_path) -> None:
    done = cli("sandbox", "check", env={"PATH": str(tmp_path)})
    assert done.returncode == 1
    assert "bubblewrap" in done.stdout and "apt-get install" in done.stdout


def test_unknown_action_is_a_usage_error() -> None:
    done = cli("sandbox", "explode")
    assert done.returncode == 2 and "invalid choice: 'explode'" in done.stderr
