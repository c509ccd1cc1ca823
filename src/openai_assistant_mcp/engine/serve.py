"""Serve the engine's REST API with uvicorn (`openai-assistant-mcp api`), behind the shared
HTTP guard (http/guard.py) answering refusals in OpenAI's error envelope."""

from __future__ import annotations

import logging
import re
import socket
import sys
from typing import Any, Protocol

import uvicorn

from ..http.access import exposure_refusal
from ..http.asgi import ASGIApp, Message, Receive, Scope, Send
from ..http.bodies import MIB, BodyRoute
from ..http.guard import Door, DoorSettings, Guard, openai_envelope
from ..http.health import HealthCheck
from ..http.limits import CallerLimiter
from ..http.server import GuardedServer, uvicorn_limits
from .app import create_app
from .console.assets import BesideConsole, console_guard
from .ports import busy_port_refusal
from .sandbox.namespaces import warn_at_start
from .settings import APIGuardSettings, EngineSettings
from .startup import start_failure, store_reachable
from .store.database import describe_url

log = logging.getLogger(__name__)

# JSON nesting refused at the door: below what exhausts the parsers' recursion. The app refuses
# shallower nesting it cannot store with a message naming the field (api/deps.py).
MAX_JSON_DEPTH = 500
# Room for a multipart form's boundaries, part headers and small fields around the file: the
# caps are OpenAI's limits on the file's bytes (the SDK's chunked upload sends 64 MiB parts).
MULTIPART_SLACK = MIB
# The per-route body caps, in one table (every other route has MAX_REQUEST_BODY_BYTES).
LARGE_BODY_ROUTES: tuple[BodyRoute, ...] = (
    BodyRoute("POST", re.compile(r"/v1/files"), 512 * MIB + MULTIPART_SLACK),
    BodyRoute(
        "POST", re.compile(r"/v1/uploads/[A-Za-z0-9_-]{1,128}/parts"), 64 * MIB + MULTIPART_SLACK
    ),
)


def api_guard(
    app: Any, settings: APIGuardSettings | APIDoorSettings, prefix: str = "API", **options: Any
) -> Guard:
    """The REST API behind the guard. With an access token, `Authorization: Bearer <token>`
    opens the door and the caller's own key comes in `X-OpenAI-API-Key`; the app then sees
    that key as the bearer, as it would without a token. Requests are limited per key.
    `prefix` names the settings in refusals (MCP when the MCP server's port answers the API)."""
    door = Door.from_settings(
        settings,
        prefix,
        openai_envelope,
        MAX_JSON_DEPTH,
        key_as_bearer=True,
        limiter=settings.limiter("requests"),
        large_body_routes=LARGE_BODY_ROUTES,
        log_host_refusals=True,
        **options,
    )
    return Guard(app, door)


class APIDoorSettings(DoorSettings, Protocol):
    """Door settings that also make a per-key request limiter (the MCP server's settings)."""

    def limiter(self, what: str, *, line: bool = False) -> CallerLimiter: ...


# What uvicorn says after a failed start, which the one line already said.
_STARTUP_FAILED = "Application startup failed. Exiting."


class StartFailureInOneLine:
    """The app's lifespan, its start-up failure (a database it cannot reach, a URL it cannot
    use) logged as one line naming the fix rather than uvicorn's traceback; the traceback only
    at LOG_LEVEL=DEBUG."""

    def __init__(self, app: ASGIApp, database_url: str) -> None:
        self.app = app
        self.database_url = database_url
        self.failure: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_quietly(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "lifespan.startup.complete"
            if message["type"] == "lifespan.startup.failed":
                message = {**message, "message": ""}  # the traceback: said below, or at DEBUG
            await send(message)

        try:
            await self.app(scope, receive, send_quietly)
        except Exception as exc:
            if started:
                raise
            self.failure = start_failure(exc, self.database_url)
            log.debug("start-up failed", exc_info=exc)
            log.error(self.failure)


class _QuietAfterOneLine(logging.Filter):
    def __init__(self, app: StartFailureInOneLine) -> None:
        super().__init__()
        self.app = app

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.app.failure and record.getMessage() == _STARTUP_FAILED)


class _AnnouncingServer(GuardedServer):
    """A uvicorn server that says where it listens once its socket is bound."""

    def __init__(
        self,
        config: uvicorn.Config,
        settings: APIGuardSettings,
        database: str,
        guard: Guard,
        warning: str | None,
        start_failure: StartFailureInOneLine,
        console: bool = False,
    ) -> None:
        super().__init__(config, settings, lambda: guard.in_flight, guard.drain)
        self.start_failure = start_failure
        self.database = database
        self.console = console
        self.warning = warning

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        except SystemExit:
            if self.start_failure.failure:
                raise SystemExit(1) from None  # said in one line (StartFailureInOneLine)
            raise
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"Assistants API listening on http://{shown}:{port}/v1", file=sys.stderr)
            print(f"Database: {self.database}", file=sys.stderr, flush=True)
            if self.console:
                print(f"Console: http://{shown}:{port}/ui/", file=sys.stderr, flush=True)
            if self.warning:  # after the announcement, which scripts read first
                log.warning(self.warning)


def serve_api(
    settings: EngineSettings,
    host: str = "127.0.0.1",
    port: int = 8663,
    guards: APIGuardSettings | None = None,
) -> None:
    """Run the API until interrupted. Once it listens, says on stderr where (the real port, so
    port 0 picks a free one) and which database it uses (password hidden)."""
    guards = guards or APIGuardSettings()
    refusal = exposure_refusal(
        host, guards.auth_token is not None, guards.insecure_no_auth,
        "API_AUTH_TOKEN (--auth-token)", "--insecure-no-auth",
    )  # fmt: skip
    if refusal:
        raise SystemExit(refusal)
    busy = busy_port_refusal(host, port, "--port")
    if busy:
        raise SystemExit(busy)
    warning = settings.provider_warning(
        "Runs of callers that send no key (Authorization: Bearer)", "OPENAI_API_KEY"
    )
    database_url = settings.resolved_database_url()
    app = StartFailureInOneLine(create_app(settings), database_url)
    guard = api_guard(app, guards)
    warn_at_start(log)  # code_interpreter on a machine that refuses it namespaces
    quiet = _QuietAfterOneLine(app)
    logging.getLogger("uvicorn.error").addFilter(quiet)
    # log_config None: uvicorn's records go to the root logger's handler (cli.configure_logging,
    # which escapes control characters) rather than handlers of its own.
    engine_app = app.app
    front: ASGIApp = guard
    if settings.console_enabled:
        front = BesideConsole(guard, console_guard(guard.door))
    config = uvicorn.Config(
        HealthCheck(front, lambda: store_reachable(engine_app)),
        host=host,
        port=port,
        log_config=None,
        log_level="warning",
        **uvicorn_limits(guards),
    )
    database = describe_url(database_url)
    server = _AnnouncingServer(
        config, guards, database, guard, warning, app, console=settings.console_enabled
    )
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down for
        pass
    finally:
        logging.getLogger("uvicorn.error").removeFilter(quiet)
