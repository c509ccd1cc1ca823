"""The MCP HTTP transports' door (SSE and streamable HTTP), on the shared guard (http/guard.py)
answering in JSON-RPC, and the SDK's own DNS-rebinding protection behind it.

- Host and Origin are checked on every request (loopback names only, unless
  MCP_ALLOWED_HOSTS/ORIGINS say more); the SDK's `TransportSecuritySettings` checks again.
- MCP_AUTH_TOKEN, when set, must come with every request as `Authorization: Bearer <token>`.
  That header is then the server's door, not an OpenAI key: in passthrough mode the caller's
  key comes in `X-OpenAI-API-Key` only.
- Tool calls (not requests) are limited per API key, by the server.
- The server will not listen beyond loopback without a token unless told to
  (MCP_INSECURE_NO_AUTH), and on SIGTERM it drains the tool calls in flight.

Heavy imports (uvicorn, the SDK) happen in functions: the stdio transport must start fast.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ...http.access import exposure_refusal
from ...http.guard import Door, Guard, Refusal

if TYPE_CHECKING:
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.types import ASGIApp

    from ...settings import MCPAccessSettings, Settings

# Deepest JSON nesting a request body may have: far beyond any tool's arguments, far below
# what exhausts recursion in the SDK's parsing and validation.
MAX_JSON_DEPTH = 200


def json_rpc_error(refusal: Refusal) -> tuple[dict[str, Any], dict[str, str]]:
    """A refusal as MCP clients expect it: a JSON-RPC error, or OAuth's for a wrong token."""
    if refusal.kind == "token":
        body = {"error": "invalid_token", "error_description": refusal.message}
        return body, {"www-authenticate": 'Bearer error="invalid_token"'}
    code = -32700 if refusal.kind == "depth" else -32600
    error = {"code": code, "message": refusal.message}
    return {"jsonrpc": "2.0", "id": None, "error": error}, refusal.headers


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


def transport_security(settings: MCPAccessSettings) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding protection with the configured hosts and origins."""
    from mcp.server.transport_security import TransportSecuritySettings

    if not settings.checks_hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(settings.allowed_hosts),
        allowed_origins=list(settings.allowed_origins),
    )


def streamable_http_options(settings: Settings) -> dict[str, Any]:
    """Options for the SDK's streamable HTTP session manager: security, body cap, session caps
    and idle time-out."""
    return {
        "security_settings": transport_security(settings),
        "max_request_body_size": settings.max_request_body_bytes,
        "max_sessions": settings.max_sessions,
        "max_sessions_per_client": settings.max_sessions_per_client,
        "session_idle_timeout": settings.session_idle_timeout,
    }


def mcp_guard(app: ASGIApp, settings: Settings) -> Guard:
    """`app` behind the shared guard, refusing in JSON-RPC."""
    door = Door.from_settings(
        settings, "MCP", json_rpc_error, MAX_JSON_DEPTH, check_hosts=settings.checks_hosts
    )
    return Guard(app, door)


async def serve_guarded(
    app: ASGIApp,
    settings: Settings,
    in_flight: Callable[[], int],
    log_config: Any = None,
    health: Callable[[], Awaitable[bool]] | None = None,
    engine_app: ASGIApp | None = None,
) -> None:
    """Serve `app` behind the guard with uvicorn until SIGTERM/SIGINT, then drain; `health`
    answers GET /healthz in front of the guard (no token needed; http/health.py). With the
    embedded engine's `engine_app` and CONSOLE_ENABLED, /ui and the REST API under /v1 are
    served beside MCP (docs/console.md)."""
    import uvicorn

    from ...http.health import HealthCheck
    from ...http.server import GuardedServer, uvicorn_limits

    guard = mcp_guard(app, settings)
    front: ASGIApp = guard
    drains = [guard.drain]
    if engine_app is not None and settings.console_enabled:
        from ...engine.console.assets import BesideConsole, console_guard
        from ...engine.serve import api_guard

        # The embedded engine's REST API beside MCP, for the console: its own door (OpenAI's
        # error envelope, requests limited per key) with the MCP server's hosts and token.
        rest = api_guard(engine_app, settings, "MCP", check_hosts=settings.checks_hosts)
        front = BesideConsole(guard, console_guard(rest.door), rest)
        drains.append(rest.drain)
        mcp_in_flight = in_flight

        def in_flight() -> int:
            return mcp_in_flight() + rest.in_flight

    def drain() -> None:
        for each in drains:
            each()

    config = uvicorn.Config(
        HealthCheck(front, health) if health is not None else front,
        host=settings.host,
        port=settings.port,
        log_config=log_config,
        access_log=settings.log_level == "DEBUG",
        **uvicorn_limits(settings),
    )
    await GuardedServer(config, settings, in_flight, drain).serve()
