"""The sandbox's settings are read only under their documented SANDBOX_* names: a shell that
exported VENV (or MEMORY_MB...) must not change what the server installs and mounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from openai_assistant_mcp.engine.sandbox.settings import SandboxSettings


def test_unprefixed_names_in_the_environment_are_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    default = SandboxSettings()
    unprefixed = {
        "VENV": str(tmp_path / "someone-elses-venv"),
        "MEMORY_MB": "99999",
        "MAX_PROCESSES": "9999",
        "TMP_MB": "99999",
        "PACKAGES": "evil-package",
        "UID_BASE": "0",
        "MAX_FILES": "999999",
    }
    for name, value in unprefixed.items():
        monkeypatch.setenv(name, value)
    assert SandboxSettings() == default


def test_each_setting_is_read_under_its_sandbox_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SANDBOX_VENV", str(tmp_path / "venv"))
    monkeypatch.setenv("SANDBOX_MEMORY_MB", "4096")
    settings = SandboxSettings()
    assert (settings.venv, settings.memory_mb) == (tmp_path / "venv", 4096)
    assert SandboxSettings(memory_mb=512).memory_mb == 512  # code still names the fields
