"""The Assistants API client the tools use: the embedded engine in-process, or a remote API.

One `openai.AsyncOpenAI` (and one connection pool) serves every call. The key a call runs with
lives in the `call_api_key` context variable, which the server sets for each tool call;
`CallKeyAuth` writes it into that request's Authorization header, so concurrent calls with
different keys share the client without sharing credentials.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, cast

import httpx2

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.resources.beta import AsyncBeta

    from ..http.asgi import ASGIApp
    from ..settings import Settings

log = logging.getLogger(__name__)

# The API key of the tool call being served; None sends no Authorization header.
call_api_key: ContextVar[str | None] = ContextVar("call_api_key", default=None)

EMBEDDED_BASE_URL = "http://embedded-engine/v1"  # never resolved: requests stay in-process
# The SDK insists on a key at construction; CallKeyAuth replaces it on every request.
_PLACEHOLDER_KEY = "set-per-call"
# Remote mode: aiohttp's connection pool (the SDK's `openai[aiohttp]` transport) costs less CPU
# per request than httpx2's own, whose pool probes every idle connection on each request.
_REMOTE_LIMITS = httpx2.Limits(max_connections=256, max_keepalive_connections=64)


class CallKeyAuth(httpx2.Auth):
    """Sets each request's Authorization header from the current call's key (or removes it).
    With an access token (a remote API's API_AUTH_TOKEN), that is the bearer and the key goes
    in X-OpenAI-API-Key."""

    def __init__(self, access_token: str | None = None) -> None:
        self._access_token = access_token

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        key = call_api_key.get()
        headers = request.headers
        if self._access_token:
            headers["Authorization"] = f"Bearer {self._access_token}"
            headers.pop("X-OpenAI-API-Key", None)
            if key:
                headers["X-OpenAI-API-Key"] = key
        elif key:
            headers["Authorization"] = f"Bearer {key}"
        else:
            headers.pop("Authorization", None)
        yield request


@asynccontextmanager
async def open_api(
    settings: Settings, engine_opened: Callable[[ASGIApp], None] | None = None
) -> AsyncIterator[AsyncOpenAI]:
    """The shared API client; in embedded mode the engine runs (lifespan entered) meanwhile,
    its app handed to `engine_opened` (the console's REST API on the MCP port)."""
    async with AsyncExitStack() as stack:
        token = settings.assistants_api_token
        auth = CallKeyAuth(token.get_secret_value() if token else None)
        timeout = httpx2.Timeout(
            settings.assistants_api_timeout, connect=min(settings.assistants_api_timeout, 10.0)
        )
        http: httpx2.AsyncClient
        base_url: str | None
        if settings.embedded:
            from ..engine.admin import keyless_data_warning
            from ..engine.app import create_app
            from ..engine.store.database import describe_url
            from .asgi_transport import StreamingASGITransport

            engine_settings = settings.engine_settings()
            app = create_app(engine_settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            database = describe_url(engine_settings.resolved_database_url())
            log.info("embedded engine ready (database %s)", database)
            if engine_opened is not None:
                engine_opened(app)
            if settings.provider_api_key and not settings.credentials_passthrough:
                warning = await keyless_data_warning(app.state.engine.db)
                if warning:
                    log.warning(warning)
            http = httpx2.AsyncClient(
                transport=StreamingASGITransport(app), auth=auth, timeout=timeout
            )
            base_url, retries = EMBEDDED_BASE_URL, 0
        else:
            from openai import DefaultAioHttpClient

            http = DefaultAioHttpClient(auth=auth, timeout=timeout, limits=_REMOTE_LIMITS)
            base_url, retries = settings.assistants_api_url, 2
            log.info("remote Assistants API at %s", base_url)

        api = _assistants_client()(
            api_key=_PLACEHOLDER_KEY, base_url=base_url, http_client=http, max_retries=retries
        )
        stack.push_async_callback(api.close)
        yield api


def _assistants_client() -> type[AsyncOpenAI]:
    """`AsyncOpenAI` whose `beta` holds only what the tools call: `assistants` and `threads`.
    The SDK's own `beta` namespace also imports its agents, chatkit, realtime and responses
    resources when first touched: ~11 MiB and ~0.1 s of CPU before the first call's answer,
    for nothing the Assistants API uses (bench/RESULTS.md, "MCP hot path, session 8")."""
    from functools import cached_property

    from openai import AsyncOpenAI
    from openai.resources.beta.assistants import AsyncAssistants
    from openai.resources.beta.threads.threads import AsyncThreads

    class AssistantsBeta:
        def __init__(self, client: AsyncOpenAI) -> None:
            self.assistants = AsyncAssistants(client)
            self.threads = AsyncThreads(client)

    class AssistantsClient(AsyncOpenAI):
        @cached_property
        def beta(self) -> AsyncBeta:
            return cast("AsyncBeta", AssistantsBeta(self))

    return AssistantsClient
