"""The REST API's guards on a socket (`openai-assistant-mcp api`), and the uvicorn server both
HTTP servers use.

`APIGuard` (ASGI middleware) refuses, in OpenAI's error envelope: a Host or Origin not allowed
(DNS rebinding), a missing or wrong access token, a body over the size cap or not delivered in
time, a caller over their concurrency or rate limit, and new requests once shutdown began.
`GuardedServer` (uvicorn) closes connections that stall before sending a request, and on
SIGTERM stops accepting, lets the work in flight finish within a grace period, then stops.
The in-process engine (the MCP server's default backend) has no socket and none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import re
import signal
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from .errors import BodyRefused
from .http_bodies import (  # re-exported: the guards' body handling lives in http_bodies
    LARGE_BODY_ROUTES,
    MIB,
    BodyRoute,
    buffer_body,
    large_body_route,
    nested_deeper_than,
    read_body,
    streamed_body,
)
from .http_policy import APIGuardSettings, HTTPLimitSettings, LimitExceeded, pattern_matches

log = logging.getLogger(__name__)
__all__ = [
    "LARGE_BODY_ROUTES",
    "MIB",
    "BodyRoute",
    "buffer_body",
    "large_body_route",
    "nested_deeper_than",
    "read_body",
    "streamed_body",
]
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
KEY_HEADER = b"x-openai-api-key"


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def bearer(value: str | None) -> str | None:
    scheme, _, token = (value or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


# JSON nesting refused at the door: below what exhausts the parsers' recursion. The app refuses
# shallower nesting it cannot store with a message naming the field (api/deps.py).
MAX_JSON_DEPTH = 500
KEY_MAX_LENGTH = 256
_KEY_CHARACTERS = re.compile(rf"[\x21-\x7e]{{1,{KEY_MAX_LENGTH}}}")


def key_refusal(scope: Scope) -> str | None:
    """Why the caller's key headers cannot be used (None when they can): a key is printable
    ASCII, at most KEY_MAX_LENGTH characters, as it must go on to the provider in a header."""
    keys = [("X-OpenAI-API-Key", (header(scope, KEY_HEADER) or "").strip())]
    authorization = header(scope, b"authorization")
    if authorization is not None:
        keys.append(("Authorization", bearer(authorization) or ""))
    for name, key in keys:
        if key and not _KEY_CHARACTERS.fullmatch(key):
            return (
                f"Invalid {name} header: an API key is printable ASCII without spaces, at most "
                f"{KEY_MAX_LENGTH} characters."
            )
    return None


def token_matches(given: str | None, expected: bytes) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected)


def host_refusal(
    scope: Scope, hosts: tuple[str, ...], origins: tuple[str, ...], prefix: str = "API"
) -> tuple[int, str, str] | None:
    """(status, code, message) refusing the request's Host or Origin; None when both pass.
    `prefix` names the settings in the message (API_ALLOWED_HOSTS, MCP_ALLOWED_HOSTS)."""
    host = header(scope, b"host")
    if host is None or not pattern_matches(host, hosts):
        return (
            421,
            "host_not_allowed",
            f"Host {host!r} is not allowed: this server answers only for {prefix}_ALLOWED_HOSTS "
            "(loopback names unless configured), which protects it from DNS rebinding.",
        )
    origin = header(scope, b"origin")
    if origin is not None and not pattern_matches(origin, origins):
        message = (
            f"Origin {origin!r} is not allowed to call this server ({prefix}_ALLOWED_ORIGINS)."
        )
        return 403, "origin_not_allowed", message
    return None


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    raw = json.dumps(body).encode()
    extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def _envelope(message: str, type: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": None, "code": code}}


class APIGuard:
    """ASGI middleware in front of the REST API (see the module docstring).

    With an access token set, `Authorization: Bearer <token>` opens the door and the caller's
    own key (their identity and provider key) comes in `X-OpenAI-API-Key`; the app then sees
    that key as the bearer, as it would without a token."""

    def __init__(self, app: Any, settings: APIGuardSettings) -> None:
        self.app = app
        self.settings = settings
        self.limiter = settings.limiter("requests")
        self.draining = False
        token = settings.auth_token
        self._token = token.get_secret_value().encode() if token else None

    @property
    def in_flight(self) -> int:
        return self.limiter.in_flight

    def drain(self) -> None:
        """Refuse new requests from now on (shutdown); those in flight go on."""
        self.draining = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        refusal = host_refusal(scope, settings.allowed_hosts, settings.allowed_origins)
        if refusal is not None:
            status, code, message = refusal
            log.warning("refused: %s", message)
            await send_json(send, status, _envelope(message, "invalid_request_error", code))
            return
        if self._token is not None:
            if not token_matches(bearer(header(scope, b"authorization")), self._token):
                await send_json(
                    send,
                    401,
                    _envelope(
                        "Missing or wrong access token: this server needs 'Authorization: Bearer "
                        "<API_AUTH_TOKEN>'; send your OpenAI API key in X-OpenAI-API-Key.",
                        "invalid_request_error",
                        "invalid_access_token",
                    ),
                    {"www-authenticate": "Bearer"},
                )
                return
            scope = _with_caller_key_as_bearer(scope)
        refused_key = key_refusal(scope)
        if refused_key is not None:
            body = _envelope(refused_key, "invalid_request_error", "invalid_api_key")
            await send_json(send, 400, body)
            return
        if self.draining:
            await send_json(
                send,
                503,
                _envelope(
                    "The server is shutting down; retry shortly.", "server_error", "shutting_down"
                ),
                {"retry-after": "1", "connection": "close"},
            )
            return
        try:
            async with self.limiter.slot(bearer(header(scope, b"authorization"))):
                await self._serve_bounded(scope, receive, send)
        except LimitExceeded as exc:
            await send_json(
                send,
                429,
                _envelope(exc.message, "requests", exc.code),
                {"retry-after": str(math.ceil(exc.retry_after))},
            )

    async def _serve_bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, its request body bounded: buffered up to the body cap, or streamed on a
        route of LARGE_BODY_ROUTES."""
        settings = self.settings
        started = False

        async def sending(message: dict[str, Any]) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            route = large_body_route(scope)
            if route is None:
                body, receive = await buffer_body(
                    scope, receive, settings.max_request_body_bytes, settings.http_read_timeout
                )
                if nested_deeper_than(body, MAX_JSON_DEPTH):
                    message = f"The request body nests JSON deeper than {MAX_JSON_DEPTH} levels."
                    await send_json(send, 400, _envelope(message, "invalid_request_error", None))
                    return
            else:
                receive = streamed_body(scope, receive, route.limit, settings.http_read_timeout)
            await self.app(scope, receive, sending)
        except BodyRefused as exc:
            if started:  # the app answered already; nothing left to tell the client
                return
            await send_json(send, exc.status, exc.body(), {"connection": "close"})


def _with_caller_key_as_bearer(scope: Scope) -> Scope:
    """The scope with Authorization replaced by the caller's X-OpenAI-API-Key (or removed)."""
    headers = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
    key = header(scope, KEY_HEADER)
    if key and key.strip():
        headers.append((b"authorization", f"Bearer {key.strip()}".encode("latin-1")))
    return {**scope, "headers": headers}


def uvicorn_limits(limits: HTTPLimitSettings) -> dict[str, Any]:
    """uvicorn.Config options that bound what clients can hold: connections in total, idle
    keep-alive time, and the final wait of a shutdown (the drain is GuardedServer's)."""
    return {
        "limit_concurrency": limits.http_max_connections,
        "timeout_keep_alive": 5,
        "timeout_graceful_shutdown": 1,
    }


class GuardedServer(uvicorn.Server):
    """uvicorn that closes stalled connections and drains in-flight work on SIGTERM/SIGINT.

    `in_flight()` counts the work to wait for (requests, or tool calls); `drain()` is called
    when shutdown starts, so the app refuses new work while that finishes."""

    def __init__(
        self,
        config: uvicorn.Config,
        limits: HTTPLimitSettings,
        in_flight: Callable[[], int],
        drain: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self.read_timeout = limits.http_read_timeout
        self.grace = limits.shutdown_grace_seconds
        self.in_flight = in_flight
        self.drain = drain
        self._reaper: asyncio.Task[None] | None = None

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._reaper = asyncio.create_task(self._close_stalled_connections())

    async def shutdown(self, sockets: Any = None) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for server in self.servers:  # stop accepting
            server.close()
        self.drain()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        while self.in_flight() and loop.time() < deadline and not self.force_exit:  # noqa: ASYNC110 - counted, not signalled
            await asyncio.sleep(0.05)
        await super().shutdown(sockets)

    async def _close_stalled_connections(self) -> None:
        """Close connections that have not sent a full request's headers for read_timeout
        seconds (a slowloris client, or one that connects and says nothing)."""
        idle_since: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self.read_timeout / 4))
            now = loop.time()
            for connection in list(self.server_state.connections):
                cycle = getattr(connection, "cycle", None)
                if cycle is not None and not cycle.response_complete:
                    idle_since.pop(connection, None)  # serving a request
                    continue
                if now - idle_since.setdefault(connection, now) >= self.read_timeout:
                    transport = getattr(connection, "transport", None)
                    if transport is not None:
                        transport.close()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Like uvicorn's, but without re-raising the signal afterwards: the process then
        finishes its own shutdown (e.g. the engine releasing its runs) and exits 0."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
