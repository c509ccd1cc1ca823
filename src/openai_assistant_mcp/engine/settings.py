"""Engine settings, read from the environment (and overridable by the CLI)."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .sandbox.settings import SandboxSettings


def default_data_dir() -> Path:
    return Path(user_data_dir("openai-assistant-mcp", appauthor=False))


class EngineSettings(BaseSettings):
    """Everything the embedded engine needs; env names are the documented ones."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default_factory=default_data_dir, alias="DATA_DIR")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    # Seconds a SQLite write waits for a lock another process holds before answering 503.
    database_lock_timeout: float = Field(default=30.0, gt=0, le=600, alias="DATABASE_LOCK_TIMEOUT")
    # Secret for the keyed hash of callers' keys; generated into data_dir when unset.
    tenant_secret: SecretStr | None = Field(
        default=None,
        alias="ENGINE_SECRET",
        description="secret of the keyed hash that makes an API key a tenant "
        "(default: generated once into DATA_DIR/secret.key)",
    )

    provider_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    provider_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    provider_timeout: float = Field(
        default=120.0,
        alias="PROVIDER_TIMEOUT",
        description="seconds one Chat Completions request to the provider may take",
    )
    provider_max_retries: int = Field(
        default=3,
        alias="PROVIDER_MAX_RETRIES",
        description="retries of a provider request that failed with 429, 5xx or a lost connection",
    )

    run_expires_after: int = Field(
        default=600,
        alias="RUN_EXPIRES_AFTER",
        description="seconds after which an unfinished run ends 'expired'",
    )
    run_lease_seconds: float = Field(
        default=30.0,
        alias="RUN_LEASE_SECONDS",
        description="seconds an engine process holds a run it executes without a heartbeat "
        "before another may take it over",
    )
    run_poll_interval: float = Field(
        default=1.0,
        alias="RUN_POLL_INTERVAL",
        description="seconds between the run executor's rounds of heartbeats, cancel checks "
        "and looks for runs no process executes",
    )
    # Sent as `openai-poll-after-ms` with unfinished runs: how often the SDK's pollers look.
    run_client_poll_ms: int = Field(
        default=100,
        alias="RUN_CLIENT_POLL_MS",
        description="milliseconds clients are told to wait between polls of an unfinished "
        "run (openai-poll-after-ms)",
    )
    run_max_output_chars: int = Field(
        default=1_000_000,
        ge=1000,
        alias="RUN_MAX_OUTPUT_CHARS",
        description="characters of one provider answer (text and tool-call arguments) after "
        "which the stream is cut and the run ends 'incomplete'",
    )

    # Largest file the Files and Uploads APIs store (OpenAI's limit: 512 MB).
    file_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1, alias="FILE_MAX_BYTES")

    # code_interpreter's sandbox (SANDBOX_* variables; see docs/code-interpreter.md).
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    # Vector stores: provider embeddings when EMBEDDINGS_BASE_URL is set (the caller's key, else
    # EMBEDDINGS_API_KEY, else OPENAI_API_KEY), else the bundled local model, else keyword-only.
    embeddings_base_url: str | None = Field(default=None, alias="EMBEDDINGS_BASE_URL")
    embedding_model: str = Field(default="text-embedding-3-small", alias="EMBEDDING_MODEL")
    embedding_dimensions: int | None = Field(
        default=None, ge=1, le=4096, alias="EMBEDDING_DIMENSIONS"
    )
    embeddings_api_key: SecretStr | None = Field(default=None, alias="EMBEDDINGS_API_KEY")
    local_embeddings: bool = Field(default=True, alias="LOCAL_EMBEDDINGS")
    local_embedding_threads: int = Field(default=1, ge=1, le=64, alias="LOCAL_EMBEDDING_THREADS")
    ingest_lease_seconds: float = Field(default=30.0, alias="INGEST_LEASE_SECONDS")
    ingest_poll_interval: float = Field(default=1.0, alias="INGEST_POLL_INTERVAL")
    ingest_concurrency: int = Field(default=2, ge=1, le=64, alias="INGEST_CONCURRENCY")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'assistants.db'}"
