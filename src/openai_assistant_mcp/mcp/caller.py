"""The API client for the requests that are not tool calls (resources/read, resources/list,
completion/complete): the same shared client, key rules, backend and per-key limit as a
tools/call (middleware.py), with failures said as one-line MCP errors instead of tool errors.

Nothing heavy here: imported when the server is built, before stdio's `initialize` answer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS

from ..http import credentials
from ..http.credentials import redact
from ..http.limits import LimitExceeded
from .backend import BackendUnavailable
from .client import call_api_key
from .errors import describe_error

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from openai import AsyncOpenAI

    from ..http.limits import CallerLimiter
    from ..settings import Settings
    from .backend import Backend

log = logging.getLogger(__name__)

NO_KEY = (
    "No API key: send it in the X-OpenAI-API-Key header (or Authorization: Bearer) "
    "with each request."
)


def invalid(message: str) -> MCPError:
    """A caller's mistake (a bad URI, an unknown ID, a missing argument) in one line."""
    return MCPError(INVALID_PARAMS, message)


class CallerAPI:
    """`async with access.api(ctx, "what") as api:` runs the body with the caller's key on
    every request `api` makes, within one slot of the caller's limit."""

    def __init__(self, settings: Settings, backend: Backend, limiter: CallerLimiter) -> None:
        key = settings.provider_api_key
        self._configured = key.get_secret_value() if key else None
        self._passthrough = settings.credentials_passthrough
        self._backend = backend
        self._limiter = limiter

    def key(self, ctx: ServerRequestContext[Any]) -> str | None:
        """This request's own key in multi-user mode (never the stream's or the server's), the
        configured key otherwise: the rule of middleware.caller_key."""
        if not self._passthrough:
            return self._configured
        key = credentials.caller_key(getattr(ctx.request, "headers", None))
        if not key:
            raise invalid(NO_KEY)
        return key

    @asynccontextmanager
    async def api(self, ctx: ServerRequestContext[Any], what: str) -> AsyncIterator[AsyncOpenAI]:
        key = self.key(ctx)
        try:
            api = await self._backend.api()
        except BackendUnavailable as exc:
            raise MCPError(INTERNAL_ERROR, str(exc)) from None
        token = call_api_key.set(key)
        try:
            async with self._limiter.slot(key, gated=True):
                yield api
        except MCPError:
            raise
        except LimitExceeded as exc:
            raise MCPError(INTERNAL_ERROR, f"429 Too Many Requests: {exc.message}") from None
        except Exception as exc:
            text = redact(describe_error(exc), key)
            if text.startswith("Internal error"):
                log.error("%s failed: %s", what, type(exc).__name__, exc_info=exc)
            else:
                log.info("%s: %s", what, text)
            raise MCPError(
                INVALID_PARAMS if _callers_mistake(exc) else INTERNAL_ERROR, text
            ) from None
        finally:
            call_api_key.reset(token)


def _callers_mistake(exc: Exception) -> bool:
    """An API refusal of the request itself (404 for an unknown or another tenant's ID, 400)."""
    import openai  # loaded with the backend already

    return isinstance(exc, openai.APIStatusError) and 400 <= exc.status_code < 500
