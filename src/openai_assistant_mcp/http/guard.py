"""The one guard middleware both HTTP servers put in front of their app. In this order it
refuses: a Host or Origin not allowed (DNS rebinding), a missing or wrong access token, a key
header no provider could take, new requests once shutdown began, a caller over their limits
(when the door holds a limiter), a body over its cap or not delivered in time, JSON nested too
deep. Each server renders refusals in its own format (`Door.render`): JSON-RPC errors for MCP,
OpenAI's error envelope for the REST API."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .access import host_refusal, token_matches
from .asgi import ASGIApp, Message, Receive, Scope, Send, header, send_json
from .bodies import (
    BodyRefused,
    BodyRoute,
    buffer_body,
    large_body_route,
    nested_deeper_than,
    streamed_body,
)
from .credentials import KEY_HEADER, bearer, key_refusal
from .limits import CallerLimiter, LimitExceeded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """One refused request: `kind` says what was refused (host, token, key, draining, limit,
    body, depth); `code` and `type` are the OpenAI envelope's."""

    kind: str
    status: int
    message: str
    code: str | None = None
    type: str = "invalid_request_error"
    headers: dict[str, str] = field(default_factory=dict)


# A refusal -> (JSON body, extra headers): how a server says no.
Renderer = Callable[[Refusal], tuple[dict[str, Any], dict[str, str]]]


def openai_envelope(refusal: Refusal) -> tuple[dict[str, Any], dict[str, str]]:
    """OpenAI's error envelope, as the REST API answers every error."""
    error = {"message": refusal.message, "type": refusal.type, "param": None, "code": refusal.code}
    return {"error": error}, refusal.headers


@dataclass(frozen=True)
class Door:
    """What differs between the two servers' guards."""

    prefix: str  # names the settings in refusals: MCP_ALLOWED_HOSTS, API_AUTH_TOKEN...
    render: Renderer
    token: str | None
    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    max_body_bytes: int
    read_timeout: float
    max_json_depth: int
    check_hosts: bool = True
    # With a token: the REST API's app sees X-OpenAI-API-Key as the bearer (its caller's key),
    # the MCP server's just loses the Authorization header (it reads the key header itself).
    key_as_bearer: bool = False
    limiter: CallerLimiter | None = None  # one slot per request (the MCP server limits calls)
    large_body_routes: tuple[BodyRoute, ...] = ()
    log_host_refusals: bool = False  # the REST API's operators see rebinding attempts

    @classmethod
    def from_settings(
        cls,
        settings: DoorSettings,
        prefix: str,
        render: Renderer,
        max_json_depth: int,
        **options: Any,
    ) -> Door:
        """A server's door from its access and limit settings; `options` are the rest."""
        token = settings.auth_token
        return cls(
            prefix=prefix,
            render=render,
            token=token.get_secret_value() if token else None,
            allowed_hosts=settings.allowed_hosts,
            allowed_origins=settings.allowed_origins,
            max_body_bytes=settings.max_request_body_bytes,
            read_timeout=settings.http_read_timeout,
            max_json_depth=max_json_depth,
            **options,
        )


class DoorSettings(Protocol):
    """The settings both servers' doors are made from (their access and limit sections)."""

    @property
    def auth_token(self) -> Any: ...
    @property
    def allowed_hosts(self) -> tuple[str, ...]: ...
    @property
    def allowed_origins(self) -> tuple[str, ...]: ...
    @property
    def max_request_body_bytes(self) -> int: ...
    @property
    def http_read_timeout(self) -> float: ...


class Guard:
    """ASGI middleware in front of an HTTP app (see the module docstring)."""

    def __init__(self, app: ASGIApp, door: Door) -> None:
        self.app = app
        self.door = door
        self.draining = False
        self._token = door.token.encode() if door.token else None

    @property
    def in_flight(self) -> int:
        """Requests holding or awaiting one of the limiter's slots."""
        return self.door.limiter.in_flight if self.door.limiter else 0

    def drain(self) -> None:
        """Refuse new requests from now on (shutdown); those in flight go on."""
        self.draining = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        door = self.door
        refusal: Refusal | None = None
        if door.check_hosts:
            found = host_refusal(scope, door.allowed_hosts, door.allowed_origins, door.prefix)
            if found is not None:
                refusal = Refusal("host", found[0], found[2], found[1])
        if refusal is None and self._token is not None:
            if not token_matches(bearer(header(scope, b"authorization")), self._token):
                refusal = Refusal(
                    "token",
                    401,
                    "Missing or wrong access token: this server needs 'Authorization: Bearer "
                    f"<{door.prefix}_AUTH_TOKEN>'; send your OpenAI API key in X-OpenAI-API-Key.",
                    "invalid_access_token",
                    headers={"www-authenticate": "Bearer"},
                )
            else:
                scope = _token_removed(scope, door.key_as_bearer)
        if refusal is None:
            refused_key = key_refusal(scope)
            if refused_key is not None:
                refusal = Refusal("key", 400, refused_key, "invalid_api_key")
        if refusal is None and self.draining:
            refusal = Refusal(
                "draining", 503, "The server is shutting down; retry shortly.", "shutting_down",
                "server_error", {"retry-after": "1", "connection": "close"},
            )  # fmt: skip
        if refusal is not None:
            await self._refuse(send, refusal)
            return
        if door.limiter is None:
            await self._serve_bounded(scope, receive, send)
            return
        try:
            async with door.limiter.slot(bearer(header(scope, b"authorization"))):
                await self._serve_bounded(scope, receive, send)
        except LimitExceeded as exc:
            retry = {"retry-after": str(math.ceil(exc.retry_after))}
            refusal = Refusal("limit", 429, exc.message, exc.code, "requests", retry)
            await self._refuse(send, refusal)

    async def _refuse(self, send: Send, refusal: Refusal) -> None:
        if self.door.log_host_refusals and refusal.kind == "host":
            log.warning("refused: %s", refusal.message)
        body, headers = self.door.render(refusal)
        await send_json(send, refusal.status, body, headers)

    async def _serve_bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, its request body bounded: buffered up to the body cap, or streamed on a
        route of the door's large_body_routes."""
        door = self.door
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            route = large_body_route(scope, door.large_body_routes)
            if route is None:
                body, receive = await buffer_body(
                    scope, receive, door.max_body_bytes, door.read_timeout
                )
                if nested_deeper_than(body, door.max_json_depth):
                    message = (
                        f"The request body nests JSON deeper than {door.max_json_depth} levels."
                    )
                    await self._refuse(send, Refusal("depth", 400, message))
                    return
            else:
                receive = streamed_body(scope, receive, route.limit, door.read_timeout)
            await self.app(scope, receive, sending)
        except BodyRefused as exc:
            if started:  # the app answered already; nothing left to tell the client
                return
            closing = {"connection": "close"}
            refusal = Refusal("body", exc.status, exc.message, exc.code, headers=closing)
            await self._refuse(send, refusal)


def _token_removed(scope: Scope, key_as_bearer: bool) -> Scope:
    """The scope without the access token; with `key_as_bearer`, the caller's
    X-OpenAI-API-Key (if any) takes its place as the bearer."""
    headers = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
    key = header(scope, KEY_HEADER.encode()) if key_as_bearer else None
    if key and key.strip():
        headers.append((b"authorization", f"Bearer {key.strip()}".encode("latin-1")))
    return {**scope, "headers": headers}
