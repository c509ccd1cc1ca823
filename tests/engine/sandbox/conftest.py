"""Sandbox fixtures: the real bubblewrap backend and the sandbox venv (built once, cached)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openai_assistant_mcp.engine.sandbox import Sandbox, SandboxSettings
from tests.support.sandbox import sandbox_settings

__all__ = ["sandbox_settings"]  # the fixture, for the modules here


@pytest.fixture
async def sandbox(sandbox_settings: SandboxSettings, tmp_path: Path) -> AsyncIterator[Sandbox]:
    box = Sandbox(sandbox_settings, tmp_path / "sandbox-sessions")
    try:
        yield box
    finally:
        await box.close()
