"""The code_interpreter sandbox: isolated, stateful Python sessions, one per thread.

`Sandbox` ties the backend (bubblewrap), the sandbox's venv and the session pool together;
the code_interpreter tool (`code_interpreter.py`) holds the one Sandbox of an engine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from .backend import SandboxBackend
from .bwrap import BwrapBackend
from .environment import setup, venv_missing
from .execution import Execution
from .sessions import SessionPool
from .settings import SandboxSettings

__all__ = ["Execution", "Sandbox", "SandboxSettings"]


def make_backend(settings: SandboxSettings) -> SandboxBackend:
    if settings.backend != "bwrap":
        raise ValueError(f"SANDBOX_BACKEND: unknown backend {settings.backend!r} (known: bwrap)")
    return BwrapBackend(settings)


class Sandbox:
    def __init__(self, settings: SandboxSettings, sessions_root: Path) -> None:
        self.settings = settings
        self.backend = make_backend(settings)
        self.pool = SessionPool(settings, self.backend, sessions_root)
        self._setup_lock = asyncio.Lock()

    async def unavailable(self) -> str | None:
        """Why code cannot run sandboxed here (naming what to install or run), else None."""
        # In a thread: the first call probes bwrap (namespaces.py), a subprocess.
        if reason := await asyncio.to_thread(self.backend.unavailable):
            return reason
        if venv_missing(self.settings) is None:
            return None
        if not self.settings.auto_setup:
            return venv_missing(self.settings)
        async with self._setup_lock:  # first use: build the venv once, others wait for it
            if venv_missing(self.settings) is not None:
                try:
                    await asyncio.to_thread(setup, self.settings)  # progress in the log
                except (RuntimeError, OSError) as error:
                    return f"{venv_missing(self.settings)}; setting it up failed: {error}"
        return venv_missing(self.settings)

    async def close(self) -> None:
        await self.pool.close()
