"""The Assistants API client the tools use: the embedded engine in-process, or a remote API.

One `openai.AsyncOpenAI` (and one connection pool) serves every call. The key a call runs with
lives in the `call_api_key` context variable, which the server sets for each tool call; the
transport below writes it into that request's Authorization header, so concurrent calls with
different keys share the client without sharing credentials.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import httpx2

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from .config import Settings

log = logging.getLogger(__name__)

# The API key of the tool call being served; None sends no Authorization header.
call_api_key: ContextVar[str | None] = ContextVar("call_api_key", default=None)

EMBEDDED_BASE_URL = "http://embedded-engine/v1"  # never resolved: requests stay in-process
# The SDK insists on a key at construction; KeyedTransport replaces it on every request.
_PLACEHOLDER_KEY = "set-per-call"


class KeyedTransport(httpx2.AsyncBaseTransport):
    """Sets each request's Authorization header from the current call's key (or removes it).
    With an access token (a remote API's API_AUTH_TOKEN), that is the bearer and the key goes
    in X-OpenAI-API-Key."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, access_token: str | None = None) -> None:
        self._inner = inner
        self._access_token = access_token

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        key = call_api_key.get()
        if self._access_token:
            request.headers["Authorization"] = f"Bearer {self._access_token}"
            request.headers.pop("X-OpenAI-API-Key", None)
            if key:
                request.headers["X-OpenAI-API-Key"] = key
        elif key:
            request.headers["Authorization"] = f"Bearer {key}"
        else:
            request.headers.pop("Authorization", None)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


# The connection pool probes every idle connection of its pool on each request it starts or
# finishes, so one pool's cost per request grows with concurrency; several small pools keep it
# flat (with 50 concurrent callers this was most of the server's CPU time).
_SHARDS = 8
_SHARD_LIMITS = httpx2.Limits(max_connections=64, max_keepalive_connections=16)


class ShardedTransport(httpx2.AsyncBaseTransport):
    """Spreads requests round-robin over several connection pools."""

    def __init__(self, shards: list[httpx2.AsyncBaseTransport]) -> None:
        self._shards = shards
        self._next = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self._next = (self._next + 1) % len(self._shards)
        return await self._shards[self._next].handle_async_request(request)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


@asynccontextmanager
async def open_api(settings: Settings) -> AsyncIterator[AsyncOpenAI]:
    """The shared API client; in embedded mode the engine runs (lifespan entered) meanwhile."""
    from openai import AsyncOpenAI

    async with AsyncExitStack() as stack:
        inner: httpx2.AsyncBaseTransport
        if settings.embedded:
            from .asgi_transport import StreamingASGITransport
            from .engine.app import create_app
            from .engine.store.database import describe_url

            engine_settings = settings.engine_settings()
            app = create_app(engine_settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            database = describe_url(engine_settings.resolved_database_url())
            log.info("embedded engine ready (database %s)", database)
            inner = StreamingASGITransport(app)
            base_url, retries = EMBEDDED_BASE_URL, 0
        else:
            tls = httpx2.create_ssl_context()  # loading the CA bundle once, not per shard
            inner = ShardedTransport(
                [
                    httpx2.AsyncHTTPTransport(verify=tls, limits=_SHARD_LIMITS)
                    for _ in range(_SHARDS)
                ]
            )
            base_url, retries = settings.assistants_api_url, 2
            log.info("remote Assistants API at %s", base_url)

        token = settings.assistants_api_token
        timeout = settings.assistants_api_timeout
        http = httpx2.AsyncClient(
            transport=KeyedTransport(inner, token.get_secret_value() if token else None),
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
        )
        api = AsyncOpenAI(
            api_key=_PLACEHOLDER_KEY, base_url=base_url, http_client=http, max_retries=retries
        )
        stack.push_async_callback(api.close)
        yield api
