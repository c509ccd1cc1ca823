"""The engine's long-lived parts, created at start-up and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .settings import EngineSettings
from .store.database import Database
from .tenancy import TenantHasher


@dataclass
class EngineState:
    settings: EngineSettings
    db: Database
    hasher: TenantHasher
    executor: Any = None  # runner.RunExecutor once runs execute
    sandbox: Any = None  # sandbox.Sandbox, made on code_interpreter's first use
    ingestion: Any = None  # vectors.worker.IngestionWorker: vector store files in the background
