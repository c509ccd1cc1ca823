"""The settings tree: every environment variable declared once, in the section that owns it,
and composed into each command's settings (a flag per field: cli.py).

    http/limits.py    HTTPLimitSettings   MAX_REQUEST_BODY_BYTES, HTTP_*, *_PER_KEY, ...
    engine/settings   EngineSettings      DATA_DIR, DATABASE_URL, OPENAI_BASE_URL, OPENAI_API_KEY,
                                          PROVIDER_*, RUN_*, FILE_*, EMBEDDING*, INGEST_*, SANDBOX_*
                      APIAccessSettings   API_AUTH_TOKEN, API_ALLOWED_*, API_INSECURE_NO_AUTH
    here              LoggingSettings     LOG_LEVEL
                      MCPAccessSettings   MCP_AUTH_TOKEN, MCP_ALLOWED_*, MCP_*SESSION*
                      Settings            the MCP server: the above + TRANSPORT, HOST, PORT, ...
                      APISettings         `openai-assistant-mcp api`
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from .engine.settings import APIGuardSettings, EngineSettings
from .http.access import LOOPBACK_HOSTS, LOOPBACK_ORIGINS, split_list
from .http.env_names import DocumentedSettings
from .http.limits import HTTPLimitSettings
from .mcp.tools.registry import TOOLSET_NAMES as TOOLSETS

Transport = Literal["stdio", "sse", "streamable-http"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LoggingSettings(DocumentedSettings):
    """Logging, shared by every command."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
    cli_group: ClassVar[str] = "logging"

    log_level: LogLevel = Field(
        default="INFO",
        alias="LOG_LEVEL",
        description="DEBUG, INFO, WARNING or ERROR (logs go to stderr)",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class MCPAccessSettings(DocumentedSettings):
    """The MCP HTTP transports' door and sessions (the limits are HTTPLimitSettings')."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
    cli_group: ClassVar[str] = "HTTP access and limits"

    auth_token: SecretStr | None = Field(
        default=None,
        alias="MCP_AUTH_TOKEN",
        description="token every MCP HTTP request must carry as Authorization: Bearer (the "
        "OpenAI key then comes in X-OpenAI-API-Key)",
    )
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=LOOPBACK_HOSTS,
        alias="MCP_ALLOWED_HOSTS",
        description="comma-separated Host values the HTTP transports answer (name, name:* for "
        "any port, or * to turn the Host and Origin checks off)",
    )
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=LOOPBACK_ORIGINS,
        alias="MCP_ALLOWED_ORIGINS",
        description="comma-separated Origin values allowed",
    )
    insecure_no_auth: bool = Field(
        default=False,
        alias="MCP_INSECURE_NO_AUTH",
        description="listen on a non-loopback HOST without MCP_AUTH_TOKEN (access controlled "
        "elsewhere)",
    )
    max_sessions: int = Field(
        default=500,
        ge=1,
        alias="MCP_MAX_SESSIONS",
        description="sessions (streamable HTTP) or streams (SSE) open at once; beyond, an idle "
        "one is closed to make room (SSE: at most half of HTTP_MAX_CONNECTIONS)",
    )
    max_sessions_per_client: int = Field(
        default=50,
        ge=1,
        alias="MCP_MAX_SESSIONS_PER_CLIENT",
        description="sessions or SSE streams one client (address and key) holds at once; "
        "beyond, its own idle one is closed",
    )
    session_idle_timeout: float = Field(
        default=1800.0,
        gt=0,
        alias="MCP_SESSION_IDLE_TIMEOUT",
        description="seconds a session or SSE stream may go without a request before it is closed",
    )

    _split = field_validator("allowed_hosts", "allowed_origins", mode="before")(split_list)

    @property
    def checks_hosts(self) -> bool:
        """Whether Host and Origin are checked: `*` among the hosts turns both checks off."""
        return "*" not in self.allowed_hosts


class Settings(LoggingSettings, MCPAccessSettings, HTTPLimitSettings, EngineSettings):
    """Everything `openai-assistant-mcp` (the MCP server) reads from its environment; the
    names are the contract. Also the embedded engine's settings (it is an EngineSettings)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
    cli_group: ClassVar[str] = "MCP server"

    transport: Transport = Field(
        default="stdio",
        alias="TRANSPORT",
        description="stdio, sse (served at /sse) or streamable-http (at /mcp)",
    )
    host: str = Field(
        default="localhost", alias="HOST", description="address the HTTP transports listen on"
    )
    port: int = Field(
        default=8662,
        ge=0,
        le=65535,
        alias="PORT",
        description="port the HTTP transports listen on",
    )
    credentials_passthrough: bool = Field(
        default=False,
        alias="MCP_CREDENTIALS_PASSTHROUGH",
        description="use each HTTP request's X-OpenAI-API-Key (or Authorization: Bearer) header",
    )
    assistants_api_url: str | None = Field(
        default=None,
        alias="ASSISTANTS_API_URL",
        description="send calls to this remote Assistants API instead of the embedded engine",
        json_schema_extra={"shown_default": "not set: the embedded engine"},
    )
    # The remote API's own access token (its API_AUTH_TOKEN); the caller's key then goes in
    # X-OpenAI-API-Key. And how long one call to it may take.
    assistants_api_token: SecretStr | None = Field(
        default=None,
        alias="ASSISTANTS_API_TOKEN",
        description="access token of the remote Assistants API (its API_AUTH_TOKEN)",
    )
    assistants_api_timeout: float = Field(
        default=120.0,
        gt=0,
        alias="ASSISTANTS_API_TIMEOUT",
        description="seconds one API call may take",
    )
    toolsets: Annotated[tuple[str, ...], NoDecode] = Field(
        default=TOOLSETS,
        alias="OPENAI_ASSISTANT_TOOLSETS",
        description=f"comma-separated subset of: {', '.join(TOOLSETS)}",
    )
    read_only: bool = Field(
        default=False,
        alias="READ_ONLY",
        description="expose only the tools that change nothing",
    )
    # Default wait of create_run & co.: below the ~60 s request time-out common in MCP clients.
    run_wait_timeout: float = Field(
        default=50.0,
        gt=0,
        le=600,
        alias="RUN_WAIT_TIMEOUT",
        description="default seconds a run tool waits for the run",
    )
    result_images: bool = Field(
        default=True,
        alias="MCP_RESULT_IMAGES",
        description="return charts and image files as MCP image content; off for text-only "
        "clients (mcpo, so OpenWebUI through it), which would pass each image to the model as "
        "base64 text (the result's summary names the file either way)",
    )
    upload_dirs: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(),
        alias="MCP_UPLOAD_DIRS",
        description="comma-separated directories upload_file may read by path over stdio "
        "(besides the client's MCP roots)",
    )

    @field_validator("toolsets", mode="before")
    @classmethod
    def _split_toolsets(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        names = tuple(value)
        if names in (("all",), ()):
            return TOOLSETS
        unknown = [name for name in names if name not in TOOLSETS]
        if unknown:
            raise ValueError(f"unknown toolset {unknown[0]!r}; choose from {', '.join(TOOLSETS)}")
        return names

    @field_validator("upload_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(Path(part.strip()) for part in value.split(",") if part.strip())
        return value

    @property
    def embedded(self) -> bool:
        """True when the tools talk to the in-process engine rather than ASSISTANTS_API_URL."""
        return not self.assistants_api_url

    def engine_settings(self) -> EngineSettings:
        """The embedded engine's settings: these settings are a superset of them."""
        return self


class APISettings(LoggingSettings, APIGuardSettings, EngineSettings):
    """`openai-assistant-mcp api`: the engine behind the REST API's door."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)


class StoreSettings(LoggingSettings, EngineSettings):
    """The admin commands (`tenants ...`): the engine's store."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
    # The settings the tenant commands read (engine/admin.py, cli.py), each a flag of theirs;
    # the engine's others (runs, console, sandbox...) do nothing there, so neither their
    # --help nor docs/settings.md offers them.
    READ: ClassVar[frozenset[str]] = frozenset(
        {"data_dir", "database_url", "tenant_secret", "file_storage_quota_bytes", "log_level"}
    )
