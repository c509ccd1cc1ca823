"""Sandbox settings (code_interpreter), read from the environment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

from platformdirs import user_cache_dir
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ...http.env_names import DocumentedSettings


def default_venv() -> Path:
    return Path(user_cache_dir("openai-assistant-mcp", appauthor=False)) / "sandbox-venv"


def default_base_python() -> str:
    # The interpreter the server's own venv was made from (e.g. pyenv's), not the venv's shim.
    return getattr(sys, "_base_executable", None) or sys.executable


class SandboxSettings(DocumentedSettings):
    """Where the sandbox's Python lives and how much one session may use."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
    cli_group: ClassVar[str] = (
        "code_interpreter sandbox (environment only; `sandbox setup --help`, "
        "docs/code-interpreter.md)"
    )

    backend: str = Field(
        default="bwrap",
        alias="SANDBOX_BACKEND",
        description="code_interpreter's isolation (bwrap: bubblewrap, needs user namespaces)",
    )
    venv: Path = Field(
        default_factory=default_venv,
        alias="SANDBOX_VENV",
        description="the sandbox's Python venv, built by `sandbox setup` (read-only inside)",
    )
    base_python: str = Field(
        default_factory=default_base_python,
        alias="SANDBOX_PYTHON",
        description="the base Python the sandbox venv is made from",
    )
    # Packages installed into the sandbox's venv by `sandbox setup`.
    packages: str = Field(
        default="numpy pandas matplotlib scipy",
        alias="SANDBOX_PACKAGES",
        description="packages `sandbox setup` installs into the venv (space-separated)",
    )
    auto_setup: bool = Field(
        default=True,
        alias="SANDBOX_AUTO_SETUP",
        description="build the venv on the first run that needs it when setup never ran",
    )

    idle_timeout: float = Field(
        default=3600.0,
        gt=0,
        alias="SANDBOX_IDLE_TIMEOUT",
        description="seconds a thread's interpreter lives unused before it and its files go",
    )
    max_sessions: int = Field(
        default=16,
        ge=1,
        le=1000,
        alias="SANDBOX_MAX_SESSIONS",
        description="live interpreters per server process (the oldest idle one makes room)",
    )
    exec_timeout: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        alias="SANDBOX_EXEC_TIMEOUT",
        description="wall-clock seconds one execution may take",
    )
    cpu_seconds: int = Field(
        default=60,
        ge=1,
        alias="SANDBOX_CPU_SECONDS",
        description="CPU seconds one execution may use",
    )
    session_cpu_seconds: int = Field(
        default=3600,
        ge=1,
        alias="SANDBOX_SESSION_CPU_SECONDS",
        description="CPU seconds one interpreter may use over its life",
    )
    memory_mb: int = Field(
        default=2048,
        ge=64,
        alias="SANDBOX_MEMORY_MB",
        description="memory of one interpreter: all its processes with /tmp and /dev/shm where a "
        "cgroup is available, else the address space of each process, in MiB",
    )
    max_processes: int = Field(
        default=32,
        ge=1,
        alias="SANDBOX_MAX_PROCESSES",
        description="processes one interpreter may run",
    )
    file_size_mb: int = Field(
        default=256,
        ge=1,
        alias="SANDBOX_FILE_SIZE_MB",
        description="largest file the sandbox may write, in MiB",
    )
    open_files: int = Field(
        default=256,
        ge=16,
        alias="SANDBOX_OPEN_FILES",
        description="files one interpreter may hold open",
    )
    tmp_mb: int = Field(
        default=512,
        ge=1,
        alias="SANDBOX_TMP_MB",
        description="size of the sandbox's private /tmp, in MiB",
    )
    # /mnt/data: a tmpfs of this size holding at most this many files (root server), else
    # measured after each execution.
    data_mb: int = Field(
        default=1024,
        ge=1,
        alias="SANDBOX_DATA_MB",
        description="size of the sandbox's /mnt/data, in MiB",
    )
    max_files: int = Field(
        default=10000,
        ge=10,
        le=1_000_000,
        alias="SANDBOX_MAX_FILES",
        description="files /mnt/data may hold",
    )
    output_chars: int = Field(
        default=20000,
        ge=100,
        le=1_000_000,
        alias="SANDBOX_OUTPUT_CHARS",
        description="characters of an execution's output kept",
    )
    # What one execution may hand out: figures (PNG) and files from /mnt/data become Files.
    max_images: int = Field(
        default=8,
        ge=0,
        le=100,
        alias="SANDBOX_MAX_IMAGES",
        description="figures one execution may return (PNG only; more are left out)",
    )
    max_image_mb: int = Field(
        default=5,
        ge=1,
        le=100,
        alias="SANDBOX_MAX_IMAGE_MB",
        description="largest figure one execution may return, in MiB",
    )
    max_output_files: int = Field(
        default=10,
        ge=0,
        le=1000,
        alias="SANDBOX_MAX_OUTPUT_FILES",
        description="files written in /mnt/data by one execution that become Files",
    )
    max_output_file_mb: int = Field(
        default=50,
        ge=1,
        alias="SANDBOX_MAX_OUTPUT_FILE_MB",
        description="largest /mnt/data file one execution may turn into a File, in MiB",
    )
    max_output_mb: int = Field(
        default=100,
        ge=1,
        alias="SANDBOX_MAX_OUTPUT_MB",
        description="figures and files one execution may store together, in MiB",
    )
    # Sandboxed processes run as uid/gid uid_base + slot when the server runs as root.
    uid_base: int = Field(
        default=200000,
        ge=1000,
        alias="SANDBOX_UID_BASE",
        description="first uid of the per-session uids when the server runs as root",
    )
