"""The Assistants backend the tools call: one shared API client (client.py) on the embedded
engine in-process or on a remote API, opened once first wanted and held until closed.

Opening imports openai and the engine (about a second of CPU): over stdio it waits for the
first message to be answered, which keeps that cost off the client's `initialize`.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import TYPE_CHECKING

import anyio

from ..http.credentials import redact

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from ..http.asgi import ASGIApp
    from ..settings import Settings

log = logging.getLogger(__name__)


class Phase(Enum):
    IDLE = "idle"  # nobody asked for it yet
    WANTED = "wanted"  # asked for: opening
    READY = "ready"  # the client serves calls
    FAILED = "failed"  # opening failed; calls are told why
    CLOSED = "closed"  # shut down (or closed before it opened)


class BackendUnavailable(Exception):
    """The backend cannot serve a call (it failed to start, or the server is stopping)."""


class Backend:
    """The API client's lifetime as one object: `want()` asks for it, `run()` (a task) opens and
    holds it, `api()` waits for it, `close()` ends it. Each phase change wakes every waiter."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.phase = Phase.IDLE
        self._changed = anyio.Event()
        self._api: AsyncOpenAI | None = None
        # The embedded engine's ASGI app while open (None in remote mode): the console's API.
        self.engine_app: ASGIApp | None = None
        self._failure = ""

    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        self._changed.set()
        self._changed = anyio.Event()

    def _closed(self) -> bool:
        # A call, not `self.phase is ...` inline: the type checker would keep a narrowing of
        # `self.phase` across the awaits during which close() changes it.
        return self.phase is Phase.CLOSED

    async def _until(self, *phases: Phase) -> None:
        while self.phase not in phases:
            await self._changed.wait()

    def want(self) -> None:
        if self.phase is Phase.IDLE:
            self._enter(Phase.WANTED)

    def close(self) -> None:
        if self.phase is not Phase.FAILED:  # a failure stays the answer calls get
            self._enter(Phase.CLOSED)

    async def run(self) -> None:
        """Open the client once wanted and hold it until close(); a failure to open is logged
        and told to every call."""
        from .client import open_api

        await self._until(Phase.WANTED, Phase.CLOSED)
        if self.phase is Phase.CLOSED:
            return
        try:
            # The heavy imports run in a thread, so the event loop keeps answering the client
            # (initialize, tools/list) meanwhile.
            await anyio.to_thread.run_sync(_preload, self.settings.embedded)
            if self._closed():  # the client left while we were importing
                return
            async with open_api(self.settings, self._engine_opened) as api:
                if self._closed():  # closed while the engine started: READY would hide it
                    return
                self._api = api
                self._enter(Phase.READY)
                await self._until(Phase.CLOSED)
        except Exception as exc:
            log.debug("the Assistants backend failed to start", exc_info=exc)
            if self.settings.embedded:
                # One line naming the setting and the fix (a database it cannot reach...).
                from ..engine.startup import start_failure

                url = self.settings.engine_settings().resolved_database_url()
                self._failure = start_failure(exc, url)
            else:
                self._failure = f"the Assistants backend failed to start: {str(exc)[:300]}"
            self._failure = redact(self._failure, None)
            log.error(self._failure)
            self._enter(Phase.FAILED)
        finally:
            self._api = None
            self.engine_app = None
            self.close()

    def _engine_opened(self, app: ASGIApp) -> None:
        self.engine_app = app

    async def ready(self) -> bool:
        """Wait until the backend opened (True) or cannot open (False)."""
        await self._until(Phase.READY, Phase.FAILED, Phase.CLOSED)
        return self.phase is Phase.READY

    async def api(self) -> AsyncOpenAI:
        """The open client, once ready; BackendUnavailable if it failed or is closing."""
        await self._until(Phase.READY, Phase.FAILED, Phase.CLOSED)
        if self._api is None or self.phase is not Phase.READY:
            raise BackendUnavailable(self._failure or "The server is shutting down.")
        return self._api


def _preload(embedded: bool) -> None:
    """Imports what the first calls need (the SDK imports its resources lazily, on first use)."""
    import openai.lib.streaming._assistants
    import openai.resources.beta.assistants
    import openai.resources.beta.threads.runs.steps
    import openai.resources.beta.threads.threads  # noqa: F401

    if embedded:
        from ..engine import app  # noqa: F401
