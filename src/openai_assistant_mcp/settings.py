"""The MCP server's settings: environment variables, overridden by command-line flags."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from .http_guards import MCPHTTPSettings
from .mcp.tools.registry import TOOLSET_NAMES as TOOLSETS

if TYPE_CHECKING:
    from .engine.settings import EngineSettings

Transport = Literal["stdio", "sse", "streamable-http"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(MCPHTTPSettings):
    """Everything `openai-assistant-mcp` reads from its environment (names are the contract).
    The HTTP transports' access control and limits come from MCPHTTPSettings."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    transport: Transport = Field(default="stdio", alias="TRANSPORT")
    host: str = Field(default="localhost", alias="HOST")
    port: int = Field(default=8662, ge=0, le=65535, alias="PORT")
    log_level: LogLevel = Field(default="INFO", alias="LOG_LEVEL")

    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    credentials_passthrough: bool = Field(default=False, alias="MCP_CREDENTIALS_PASSTHROUGH")

    assistants_api_url: str | None = Field(default=None, alias="ASSISTANTS_API_URL")
    # The remote API's own access token (its API_AUTH_TOKEN); the caller's key then goes in
    # X-OpenAI-API-Key. And how long one call to it may take.
    assistants_api_token: SecretStr | None = Field(default=None, alias="ASSISTANTS_API_TOKEN")
    assistants_api_timeout: float = Field(default=120.0, gt=0, alias="ASSISTANTS_API_TIMEOUT")
    toolsets: Annotated[tuple[str, ...], NoDecode] = Field(
        default=TOOLSETS, alias="OPENAI_ASSISTANT_TOOLSETS"
    )
    read_only: bool = Field(default=False, alias="READ_ONLY")
    # Default wait of create_run & co.: below the ~60 s request time-out common in MCP clients.
    run_wait_timeout: float = Field(default=50.0, gt=0, le=600, alias="RUN_WAIT_TIMEOUT")

    # Directories whose files upload_file may read by path (stdio), besides the client's roots.
    upload_dirs: Annotated[tuple[Path, ...], NoDecode] = Field(default=(), alias="MCP_UPLOAD_DIRS")

    # Passed on to the embedded engine.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path | None = Field(default=None, alias="DATA_DIR")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    # Other engine settings given as command-line flags (the engine reads its env itself).
    engine_overrides: dict[str, Any] = Field(default_factory=dict, exclude=True)

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

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def embedded(self) -> bool:
        """True when the tools talk to the in-process engine rather than ASSISTANTS_API_URL."""
        return not self.assistants_api_url

    def engine_settings(self) -> EngineSettings:
        """The embedded engine's settings: its own env, then ours, then engine flags."""
        from .engine.settings import EngineSettings

        fields: dict[str, Any] = {}
        if self.database_url:
            fields["database_url"] = self.database_url
        if self.data_dir:
            fields["data_dir"] = self.data_dir
        if self.openai_base_url:
            fields["provider_base_url"] = self.openai_base_url
        if self.openai_api_key:
            fields["provider_api_key"] = self.openai_api_key
        fields.update(self.engine_overrides)
        return EngineSettings(**fields)
