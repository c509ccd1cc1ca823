"""The code_interpreter sandbox for tests: the real bubblewrap backend and the sandbox venv
(built once, then cached). Import `sandbox_settings` into a conftest to use it."""

from __future__ import annotations

import os
import shutil

import pytest

from openai_assistant_mcp.engine.sandbox import SandboxSettings
from openai_assistant_mcp.engine.sandbox.environment import setup


def require_sandbox() -> None:
    """Skip where bubblewrap is absent, unless REQUIRE_SANDBOX=1 (CI), which fails instead."""
    if shutil.which("bwrap") is None:
        if os.environ.get("REQUIRE_SANDBOX") == "1":
            pytest.fail("bubblewrap required (REQUIRE_SANDBOX=1) but `bwrap` is not on PATH")
        pytest.skip("bubblewrap (bwrap) not installed")


@pytest.fixture(scope="session")
def sandbox_settings() -> SandboxSettings:
    """Small limits so the abuse probes end quickly; the default (cached) venv, set up. The
    wall-clock limit leaves a loaded machine room (a matplotlib chart took 4.3 s at load 29);
    CPU-bound probes still stop at 3 CPU-seconds."""
    require_sandbox()
    settings = SandboxSettings(
        exec_timeout=15, cpu_seconds=3, memory_mb=1024, max_sessions=4, output_chars=2000
    )
    setup(settings, log=lambda _line: None)
    return settings
