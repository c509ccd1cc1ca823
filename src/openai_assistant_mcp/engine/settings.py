"""The engine's settings sections, read from the environment (and overridable by the CLI):
`EngineSettings` (store, provider, runs, files, vector stores, sandbox) and the REST API's
door (`APIAccessSettings`). The top-level settings.py composes them with the MCP server's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from ..http.access import LOOPBACK_HOSTS, LOOPBACK_ORIGINS, split_list
from ..http.env_names import DocumentedSettings
from ..http.limits import HTTPLimitSettings
from .providers.compat import parse_names
from .sandbox.settings import SandboxSettings

# Where runs go when OPENAI_BASE_URL is not set (the openai SDK's default).
OPENAI_BASE_URL = "https://api.openai.com/v1"


def default_data_dir() -> Path:
    return Path(user_data_dir("openai-assistant-mcp", appauthor=False))


class EngineSettings(DocumentedSettings):
    """Everything the embedded engine needs; env names are the documented ones."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
    cli_group: ClassVar[str] = "embedded engine"

    data_dir: Path = Field(
        default_factory=default_data_dir,
        alias="DATA_DIR",
        description="engine data directory (SQLite store and secret); the default is one per "
        "user account, shared by every server it runs: give each instance its own",
    )
    database_url: str | None = Field(
        default=None,
        alias="DATABASE_URL",
        description="engine database (postgresql+asyncpg://... for PostgreSQL)",
        json_schema_extra={"shown_default": "SQLite at DATA_DIR/assistants.db"},
    )
    # Seconds a write waits for a lock another process holds before answering 503 (SQLite's
    # database lock; PostgreSQL's lock_timeout, table and row locks alike).
    database_lock_timeout: float = Field(
        default=30.0,
        gt=0,
        le=600,
        alias="DATABASE_LOCK_TIMEOUT",
        description="seconds a write waits for a lock another process holds (SQLite, or "
        "PostgreSQL's lock_timeout) before answering 503",
    )
    # Secret for the keyed hash of callers' keys; generated into data_dir when unset.
    tenant_secret: SecretStr | None = Field(
        default=None,
        alias="ENGINE_SECRET",
        description="secret of the keyed hash that makes an API key a tenant",
        json_schema_extra={
            "flag": "--engine-secret",
            "shown_default": "generated into DATA_DIR/secret.key",
        },
    )

    provider_base_url: str | None = Field(
        default=None,
        alias="OPENAI_BASE_URL",
        description="Chat Completions provider the engine runs on (OpenAI, Ollama, vLLM, "
        "LiteLLM...)",
        json_schema_extra={"flag": "--openai-base-url", "shown_default": OPENAI_BASE_URL},
    )
    provider_api_key: SecretStr | None = Field(
        default=None,
        alias="OPENAI_API_KEY",
        description="the server's own provider key (runs of callers that send no key); in the "
        "MCP server's single-user mode also the tenant your data belongs to",
        json_schema_extra={
            "flag": "--openai-api-key",
            "shown_default": "not set: no key, the provider must accept that",
        },
    )
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
    # Request adaptations for servers that differ from OpenAI's API (providers/compat.py).
    provider_compat: str = Field(
        default="",
        alias="PROVIDER_COMPAT",
        description="comma-separated request adaptations for the provider (see docs/runs.md)",
    )
    # Tool calls a model writes as text (runs/text_calls.py): small local models do.
    provider_text_tool_calls: Literal["auto", "on", "off"] = Field(
        default="auto",
        alias="PROVIDER_TEXT_TOOL_CALLS",
        description="take an answer that is only a tool call written as text (JSON, a fenced "
        "block, <tool_call> tags) as that call: auto = for providers other than OpenAI",
    )
    # Citations of file_search results written by the engine (runs/engine_citations.py).
    file_search_engine_citations: Literal["auto", "on", "off"] = Field(
        default="auto",
        alias="FILE_SEARCH_ENGINE_CITATIONS",
        description="cite the file_search result a sentence of the answer repeats, when the "
        "model wrote no source marker there: auto = for providers other than OpenAI",
    )
    # The model's context window, when the provider does not say it (providers/context.py).
    provider_context_tokens: int | None = Field(
        default=None,
        ge=256,
        alias="PROVIDER_CONTEXT_TOKENS",
        description="the model's context window in tokens; requests are fitted into it",
        json_schema_extra={
            "shown_default": "asked of the server (llama.cpp, llama-cpp-python, Ollama), "
            "else unknown: no fitting"
        },
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
    # Storage failures at a run's end (issue 11): how long its final write is retried.
    run_end_retry_seconds: float = Field(
        default=60.0,
        ge=0,
        alias="RUN_END_RETRY_SECONDS",
        description="seconds a run's final write is retried while the database cannot store "
        "it (disk full, locked) before the run ends 'failed' saying so",
    )
    run_max_output_chars: int = Field(
        default=1_000_000,
        ge=1000,
        alias="RUN_MAX_OUTPUT_CHARS",
        description="characters of one provider answer (text and tool-call arguments) after "
        "which the stream is cut and the run ends 'incomplete'",
    )

    # Largest file the Files and Uploads APIs store (OpenAI's limit: 512 MB).
    file_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1,
        alias="FILE_MAX_BYTES",
        description="largest file the Files and Uploads APIs store, in bytes",
    )
    # Per tenant: files, Uploads API parts and code_interpreter outputs together (issue 21).
    # 10 GiB: twenty files of the largest size; OpenAI's own limit is per organization.
    file_storage_quota_bytes: int = Field(
        default=10 * 1024**3,
        ge=1,
        alias="FILE_STORAGE_QUOTA_BYTES",
        description="bytes of files (uploads, upload parts, code_interpreter outputs) one "
        "tenant may store",
    )

    # code_interpreter's sandbox (SANDBOX_* variables, no flags; see docs/code-interpreter.md).
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    # Vector stores: provider embeddings when EMBEDDINGS_BASE_URL is set (the caller's key, else
    # EMBEDDINGS_API_KEY, else OPENAI_API_KEY), else the bundled local model, else keyword-only.
    embeddings_base_url: str | None = Field(
        default=None,
        alias="EMBEDDINGS_BASE_URL",
        description="an OpenAI-compatible embeddings API for vector stores (else the "
        "bundled local model)",
    )
    embedding_model: str = Field(
        default="text-embedding-3-small",
        alias="EMBEDDING_MODEL",
        description="embedding model asked of EMBEDDINGS_BASE_URL",
    )
    embedding_dimensions: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        alias="EMBEDDING_DIMENSIONS",
        description="dimensions asked of the embedding model (its own when not set)",
    )
    embeddings_api_key: SecretStr | None = Field(
        default=None,
        alias="EMBEDDINGS_API_KEY",
        description="key for EMBEDDINGS_BASE_URL when the caller sent none (else OPENAI_API_KEY)",
    )
    local_embeddings: bool = Field(
        default=True,
        alias="LOCAL_EMBEDDINGS",
        description="use the bundled local embedding model when EMBEDDINGS_BASE_URL is "
        "not set (else keyword search only)",
    )
    local_embedding_model: Literal["all-MiniLM-L6-v2-int8", "multilingual-e5-small-q4"] = Field(
        default="all-MiniLM-L6-v2-int8",
        alias="LOCAL_EMBEDDING_MODEL",
        description="the bundled local model new vector stores embed with: English MiniLM "
        "(fast), or multilingual e5 (~20x the CPU); a store keeps the model it was made with",
    )
    local_embedding_threads: int = Field(
        default=0,
        ge=0,
        le=64,
        alias="LOCAL_EMBEDDING_THREADS",
        description="CPU threads embedding passages at once (0: one per core)",
    )
    ingest_lease_seconds: float = Field(
        default=30.0,
        alias="INGEST_LEASE_SECONDS",
        description="seconds an engine process holds a vector store file it ingests "
        "without a heartbeat",
    )
    ingest_poll_interval: float = Field(
        default=1.0,
        alias="INGEST_POLL_INTERVAL",
        description="seconds between the ingestion worker's looks for files to ingest",
    )
    ingest_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        alias="INGEST_CONCURRENCY",
        description="files one engine process ingests at once",
    )
    # Each file's text is extracted in a child process under these (vectors/extraction.py).
    ingest_extraction_memory_mb: int = Field(
        default=1024,
        ge=256,  # the child maps ~130 MiB before reading the file
        alias="INGEST_EXTRACTION_MEMORY_MB",
        description="address space (MiB) of the child process that extracts one file's text; "
        "a file needing more fails",
    )
    ingest_extraction_seconds: float = Field(
        default=120.0,
        gt=0,
        alias="INGEST_EXTRACTION_SECONDS",
        description="seconds (CPU and wall-clock) the text extraction of one file may take "
        "before it fails",
    )
    # On by default: the console is static files speaking the same REST API with the caller's
    # key (no identity of its own, no cookie); off for a server that must offer MCP/REST only.
    console_enabled: bool = Field(
        default=True,
        alias="CONSOLE_ENABLED",
        description="serve the web console at /ui (on the MCP server's HTTP port with the "
        "embedded engine, which then also answers the REST API under /v1 there)",
    )

    def provider_warning(self, who: str, key_setting: str) -> str | None:
        """Why `who` (e.g. "Runs") cannot work as configured: OpenAI's API needs a key and
        none is set. None when a key is set or the provider is another one (it may need none,
        as Ollama)."""
        url = self.provider_base_url or OPENAI_BASE_URL
        if self.provider_api_key or urlsplit(url).hostname != "api.openai.com":
            return None
        return (
            f"{who} will fail: the model provider is OpenAI ({url}) and no key is set. Set "
            f"{key_setting}, or set OPENAI_BASE_URL (--openai-base-url) to a provider that "
            "needs none (e.g. Ollama: http://localhost:11434/v1)."
        )

    @field_validator("provider_base_url", "embeddings_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """A URL with a scheme and a host: `not-a-url` or `localhost:11434` would be taken for
        a relative path and fail every run later."""
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "must be an http(s) URL with a host, e.g. http://localhost:11434/v1 (Ollama) "
                "or https://api.openai.com/v1"
            )
        return value

    @field_validator("provider_compat")
    @classmethod
    def _known_adaptations(cls, value: str) -> str:
        return ",".join(parse_names(value))

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'assistants.db'}"


class APIAccessSettings(DocumentedSettings):
    """The REST API's door (`openai-assistant-mcp api`): allowed hosts/origins and a token."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
    cli_group: ClassVar[str] = "HTTP access and limits"

    auth_token: SecretStr | None = Field(
        default=None,
        alias="API_AUTH_TOKEN",
        description="token every request must carry as Authorization: Bearer (the caller's "
        "OpenAI key then comes in X-OpenAI-API-Key)",
    )
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=LOOPBACK_HOSTS,
        alias="API_ALLOWED_HOSTS",
        description="comma-separated Host values answered (name, name:* for any port, * any)",
    )
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=LOOPBACK_ORIGINS,
        alias="API_ALLOWED_ORIGINS",
        description="comma-separated Origin values allowed",
    )
    insecure_no_auth: bool = Field(
        default=False,
        alias="API_INSECURE_NO_AUTH",
        description="listen on a non-loopback host without API_AUTH_TOKEN (access controlled "
        "elsewhere)",
    )

    _split = field_validator("allowed_hosts", "allowed_origins", mode="before")(split_list)


class APIGuardSettings(APIAccessSettings, HTTPLimitSettings):
    """The REST API's door and limits on a socket (the HTTP limits are shared with MCP)."""
