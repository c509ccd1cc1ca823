"""The seam between a run's turn (`turn.py`) and the executor that runs it (`executor.py`):
what a turn needs of its host, and the outcomes and failures it hands back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from ..providers.chat import ChatProvider
from ..settings import EngineSettings
from ..state import EngineState
from ..store.database import Database
from ..store.repository import RunRow
from .builtin import BuiltinTools
from .events import RunEvents
from .lifecycle import RunStatus

T = TypeVar("T")

KEY_GONE = (
    "The engine stopped while this run was executing and it cannot resume it: the run used "
    "the caller's API key, which is never stored, and the server may not use its own key "
    "(OPENAI_API_KEY) for another tenant's run. Create a new run."
)


class RunGone(Exception):
    """The run was deleted, ended, or taken over by another process: stop quietly."""


class CancelRequested(Exception):
    """The run was set `cancelling` (seen at a write): end it cancelled."""


class TurnFailure(Exception):
    """The turn cannot go on; the run ends `failed` with this `last_error`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Ending:
    """The turn's outcome when the run ends: a terminal status and its details."""

    status: RunStatus
    incomplete_details: dict[str, Any] | None = None


@dataclass
class Waiting:
    """The turn's outcome when the run waits for the outputs of these function calls."""

    wanted: list[dict[str, Any]] = field(default_factory=list)


class Host(Protocol):
    """What a turn needs of the executor that runs it (`executor.RunExecutor`)."""

    settings: EngineSettings
    db: Database
    provider: ChatProvider
    events: RunEvents
    services: EngineState
    tools: BuiltinTools

    async def end_durably(self, run_id: str, status: str, **details: Any) -> None:
        """`end`, riding out storage failures."""
        ...

    def key_for(self, tenant: str, caller_key: str | None) -> str | None: ...
    def keyless_allowed(self, tenant: str) -> bool: ...
    def check_held(self, run_id: str, row: RunRow | None) -> RunRow: ...
    async def own(self, conn: AsyncConnection, run_id: str) -> RunRow: ...
    def released(self, run_id: str) -> None: ...

    async def write(
        self,
        work: Callable[[AsyncConnection], Awaitable[T]],
        committed: Callable[[T], None] | None = None,
    ) -> T: ...
