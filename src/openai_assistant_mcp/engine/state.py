"""The engine's long-lived parts, created at start-up and shared by every request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from .settings import EngineSettings
from .store.database import Database
from .store.repository import Prepared
from .tenancy import TenantHasher

Event = tuple[str, Any]  # (stream event name, its data)


class Subscription(Protocol):
    """The events of one run's turn, in order, from the moment of subscribing."""

    def __aiter__(self) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...


class EventBus(Protocol):
    def publish(self, run_id: str, event: str, data: Any) -> None: ...


class IngestionQueue(Protocol):
    """What the services need of `vectors.worker.IngestionWorker` (a layer above this one)."""

    @property
    def pgvector(self) -> bool: ...  # vectors are ranked by pgvector's index

    def queued(self, keys: list[tuple[str, str]], api_key: str | None) -> None:
        """(store, file) pairs just committed for ingestion, with the key that queued them."""
        ...

    def cancel(self, *, store_id: str | None = None, file_id: str | None = None) -> None:
        """Stop ingesting a deleted store's or file's files now."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Executor(Protocol):
    """What the services ask of the run executor (`runs.executor.RunExecutor`)."""

    owner: str  # the lease owner name of this process

    @property
    def events(self) -> EventBus: ...

    def launch(
        self,
        run_id: str,
        api_key: str | None,
        *,
        subscribe: bool = False,
        prepared: Prepared | None = None,
    ) -> Subscription | None:
        """Execute the next turn of a run this process has just claimed."""
        ...

    def cancel_local(self, run_id: str, reason: str = "cancel") -> bool:
        """Stop the local task of a run."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class EngineState:
    """The engine's long-lived parts, built whole, once (`app.start_engine`), never filled in
    later. The run executor and the ingestion worker work on the engine itself (built-in tools
    call the services, ingestion reads files through them), so each is made from the state
    being built: `executor(state)` and `ingestion(state)` keep it and use it once started."""

    def __init__(
        self,
        settings: EngineSettings,
        db: Database,
        hasher: TenantHasher,
        *,
        executor: Callable[[EngineState], Executor],
        ingestion: Callable[[EngineState], IngestionQueue],
    ) -> None:
        self.settings = settings
        self.db = db
        self.hasher = hasher
        self.executor = executor(self)  # runs.executor.RunExecutor
        self.ingestion = ingestion(self)  # vectors.worker.IngestionWorker
