"""What a sandbox backend provides: a started, isolated interpreter speaking the driver protocol.

Only bubblewrap ships (it is what can be tested here); a container backend (Docker/Podman)
would implement the same two methods.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SessionSpec:
    """One interpreter to start: its private /mnt/data on the host and who it runs as."""

    data_dir: Path  # host directory mounted read-write as /mnt/data
    uid: int  # the unprivileged user the code runs as (when the server is root)
    gid: int
    data_mounted: bool = False  # data_dir is the session's own size-limited tmpfs


class SandboxBackend(Protocol):
    name: str

    def unavailable(self) -> str | None:
        """Why this backend cannot start sandboxes here (what to install), else None."""
        ...

    async def start(
        self, spec: SessionSpec, join: list[str] | None = None
    ) -> asyncio.subprocess.Process:
        """Start the driver isolated; its stdin/stdout are the protocol pipes. `join`: the
        `cgroup.procs` files the sandbox's first process writes itself into before executing."""
        ...

    def isolation(self) -> list[str]:
        """One line per isolation property, for `sandbox check`."""
        ...
