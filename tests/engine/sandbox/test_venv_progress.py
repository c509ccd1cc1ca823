"""The sandbox venv's build says what it is doing (issue 24: a first code_interpreter run built
406 MB in 33.6 s with nothing logged): each step and uv's progress go to the server's log."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from openai_assistant_mcp.engine.sandbox.environment import setup
from openai_assistant_mcp.engine.sandbox.settings import SandboxSettings


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
def test_a_venv_build_logs_its_progress(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A small package keeps it quick; the steps are those of the real build.
    settings = SandboxSettings(venv=tmp_path / "venv", packages="iniconfig")
    with caplog.at_level(logging.INFO, "openai_assistant_mcp.engine.sandbox.environment"):
        setup(settings)
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith(f"sandbox venv: building {tmp_path / 'venv'} (iniconfig)")
    assert "sandbox venv: installing iniconfig" in said
    assert any(line.startswith("sandbox venv: Resolved ") for line in said), said
    assert said[-1].startswith("sandbox venv: ready in ")
    caplog.clear()
    with caplog.at_level(logging.INFO, "openai_assistant_mcp.engine.sandbox.environment"):
        setup(settings)  # complete: one line, nothing rebuilt
    assert [r.getMessage() for r in caplog.records] == [
        f"sandbox venv: {tmp_path / 'venv'} is up to date (iniconfig)"
    ]
