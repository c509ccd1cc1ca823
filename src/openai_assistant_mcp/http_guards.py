"""The MCP HTTP transports' door and limits (SSE and streamable HTTP).

- Host and Origin are checked on every request (loopback names only, unless
  MCP_ALLOWED_HOSTS/ORIGINS say more), refusals naming those settings; the mcp SDK's
  DNS-rebinding protection (`TransportSecuritySettings`) checks again behind this door.
- MCP_AUTH_TOKEN, when set, must come with every request as `Authorization: Bearer <token>`.
  That header is then the server's door, not an OpenAI key: in passthrough mode the caller's
  key comes in `X-OpenAI-API-Key` only.
- Bodies are capped in size and must arrive within HTTP_READ_TIMEOUT; tool calls are limited
  per API key (in server.py, with the limiter of `engine.http_policy`).
- The server will not listen beyond loopback without a token unless told to (MCP_INSECURE_NO_AUTH),
  and on SIGTERM it drains the tool calls in flight (`engine.http_guards.GuardedServer`).

Heavy imports (starlette, uvicorn, the SDK) happen in functions: config.py imports this module
and the stdio transport must start fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from .engine.http_policy import (
    LOOPBACK_HOSTS,
    LOOPBACK_ORIGINS,
    HTTPLimitSettings,
    exposure_refusal,
    split_list,
)

if TYPE_CHECKING:
    from mcp.server.transport_security import TransportSecuritySettings

    from .engine.http_policy import APIGuardSettings
    from .settings import Settings


# Deepest JSON nesting a request body may have: far beyond any tool's arguments, far below
# what exhausts recursion in the SDK's parsing and validation.
MAX_JSON_DEPTH = 200


class MCPHTTPSettings(HTTPLimitSettings):
    """The HTTP transports' settings; config.Settings inherits them (env names are these)."""

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


# (field, flag, help) for cli.py: every setting above gets a flag named after its field.
HTTP_FLAGS: tuple[tuple[str, str, str], ...] = tuple(
    (field, "--" + field.replace("_", "-"), info.description or "")
    for field, info in MCPHTTPSettings.model_fields.items()
)


def shown_default(default: Any) -> str:
    """A setting's default as --help shows it ("not set", "on"/"off", a comma list)."""
    if default is None:
        return "not set"
    if isinstance(default, bool):
        return "on" if default else "off"
    return ",".join(default) if isinstance(default, tuple) else str(default)


def add_api_guard_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of `openai-assistant-mcp api` for APIGuardSettings, named after their env names."""
    from .engine.http_policy import APIGuardSettings

    group = parser.add_argument_group("access and limits")
    for field, info in APIGuardSettings.model_fields.items():
        env = info.alias or field.upper()
        flag = "--" + field.replace("_", "-")
        shown = shown_default(info.get_default(call_default_factory=True))
        text = f"{info.description} (env {env}; default {shown})"
        if info.annotation is bool:
            action = argparse.BooleanOptionalAction
            group.add_argument(flag, dest=f"api_guard.{field}", action=action, help=text)
        else:
            group.add_argument(flag, dest=f"api_guard.{field}", metavar=env, help=text)


def api_guard_settings(args: argparse.Namespace) -> APIGuardSettings:
    """The REST API's guard settings: environment, then the flags given."""
    from .engine.http_policy import APIGuardSettings

    given = {
        key.removeprefix("api_guard."): value
        for key, value in vars(args).items()
        if key.startswith("api_guard.") and value is not None
    }
    return APIGuardSettings(**given)


def check_exposure(settings: Settings) -> None:
    """Refuse (exit with a clear message) to serve HTTP beyond loopback without a token."""
    if settings.transport == "stdio":
        return
    refusal = exposure_refusal(
        settings.host,
        settings.auth_token is not None,
        settings.insecure_no_auth,
        token="MCP_AUTH_TOKEN (--auth-token)",
        opt_out="--insecure-no-auth (MCP_INSECURE_NO_AUTH=true)",
    )
    if refusal:
        raise SystemExit(refusal)


def transport_security(settings: MCPHTTPSettings) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding protection with the configured hosts and origins."""
    from mcp.server.transport_security import TransportSecuritySettings

    if not settings.checks_hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(settings.allowed_hosts),
        allowed_origins=list(settings.allowed_origins),
    )


def streamable_http_options(settings: MCPHTTPSettings) -> dict[str, Any]:
    """Options for the SDK's streamable HTTP session manager: security, body cap, session caps
    and idle time-out."""
    return {
        "security_settings": transport_security(settings),
        "max_request_body_size": settings.max_request_body_bytes,
        "max_sessions": settings.max_sessions,
        "max_sessions_per_client": settings.max_sessions_per_client,
        "session_idle_timeout": settings.session_idle_timeout,
    }


class MCPGuard:
    """ASGI middleware in front of the MCP HTTP app (see the module docstring)."""

    def __init__(self, app: Any, settings: MCPHTTPSettings) -> None:
        self.app = app
        self.settings = settings
        self.draining = False
        token = settings.auth_token
        self._token = token.get_secret_value().encode() if token else None

    def drain(self) -> None:
        """Refuse new requests from now on (shutdown); calls in flight go on."""
        self.draining = True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from .engine.http_guards import (
            BodyRefused,
            bearer,
            buffer_body,
            header,
            host_refusal,
            key_refusal,
            nested_deeper_than,
            token_matches,
        )

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        if settings.checks_hosts:
            refusal = host_refusal(scope, settings.allowed_hosts, settings.allowed_origins, "MCP")
            if refusal is not None:
                status, _, message = refusal
                await _json(send, status, _rpc_error(message), {})
                return
        if self._token is not None:
            if not token_matches(bearer(header(scope, b"authorization")), self._token):
                await _json(
                    send,
                    401,
                    {
                        "error": "invalid_token",
                        "error_description": "Missing or wrong access token: this server "
                        "needs 'Authorization: Bearer <MCP_AUTH_TOKEN>'; send an OpenAI API "
                        "key in X-OpenAI-API-Key.",
                    },
                    {"www-authenticate": 'Bearer error="invalid_token"'},
                )
                return
            # The token opened the door; it must not be mistaken for the caller's OpenAI key.
            headers = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
            scope = {**scope, "headers": headers}
        refused_key = key_refusal(scope)
        if refused_key is not None:
            await _json(send, 400, _rpc_error(refused_key), {})
            return
        if self.draining:
            await _json(
                send, 503, _rpc_error("The server is shutting down; retry shortly."),
                {"retry-after": "1", "connection": "close"},
            )  # fmt: skip
            return
        try:
            body, receive = await buffer_body(
                scope,
                receive,
                self.settings.max_request_body_bytes,
                self.settings.http_read_timeout,
            )
        except BodyRefused as exc:
            await _json(send, exc.status, _rpc_error(exc.message), {"connection": "close"})
            return
        if nested_deeper_than(body, MAX_JSON_DEPTH):
            message = f"The request body nests JSON deeper than {MAX_JSON_DEPTH} levels."
            await _json(send, 400, _rpc_error(message, -32700), {})
            return
        await self.app(scope, receive, send)


def _rpc_error(message: str, code: int = -32600) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}


async def _json(send: Any, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    from .engine.http_guards import send_json

    await send_json(send, status, body, headers)


async def serve_guarded(
    app: Any, settings: Settings, in_flight: Callable[[], int], log_config: Any = None
) -> None:
    """Serve `app` behind MCPGuard with uvicorn until SIGTERM/SIGINT, then drain."""
    import uvicorn

    from .engine.http_guards import GuardedServer, uvicorn_limits

    guard = MCPGuard(app, settings)
    config = uvicorn.Config(
        guard,
        host=settings.host,
        port=settings.port,
        log_config=log_config,
        access_log=settings.log_level == "DEBUG",
        **uvicorn_limits(settings),
    )
    await GuardedServer(config, settings, in_flight, guard.drain).serve()
