"""`GET /healthz` in front of a server's guard: whether the server can serve (its store answers),
for health checks (compose, load balancers). No key or token needed, and nothing revealed but
`{"status": "ok"}` (200) or `{"status": "unavailable"}` (503)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from .asgi import ASGIApp, Receive, Scope, Send, send_json

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
# Seconds a check may take before the answer is 503: a health check must answer promptly.
CHECK_TIMEOUT = 5.0


class HealthCheck:
    """ASGI middleware: answers GET/HEAD /healthz from `check`, passes everything else on."""

    def __init__(self, app: ASGIApp, check: Callable[[], Awaitable[bool]]) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != HEALTH_PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send_json(send, 405, {"status": "method not allowed"}, {"allow": "GET, HEAD"})
            return
        healthy = False
        with anyio.move_on_after(CHECK_TIMEOUT):
            try:
                healthy = await self.check()
            except Exception as exc:  # unhealthy, said by the status; why goes to the log
                log.warning("health check failed: %s", type(exc).__name__)
        if healthy:
            await send_json(send, 200, {"status": "ok"}, {"cache-control": "no-store"})
        else:
            await send_json(send, 503, {"status": "unavailable"}, {"cache-control": "no-store"})
