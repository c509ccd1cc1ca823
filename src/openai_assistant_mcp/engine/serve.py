"""Serve the engine's REST API with uvicorn (`openai-assistant-mcp api`)."""

from __future__ import annotations

import logging
import socket
import sys

import uvicorn

from .app import create_app
from .http_guards import APIGuard, GuardedServer, uvicorn_limits
from .http_policy import APIGuardSettings, exposure_refusal
from .ports import busy_port_refusal
from .settings import EngineSettings
from .store.database import describe_url

log = logging.getLogger(__name__)


class _AnnouncingServer(GuardedServer):
    """A uvicorn server that says where it listens once its socket is bound."""

    def __init__(
        self, config: uvicorn.Config, database: str, guard: APIGuard, warning: str | None
    ) -> None:
        super().__init__(config, guard.settings, lambda: guard.in_flight, guard.drain)
        self.database = database
        self.warning = warning

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"Assistants API listening on http://{shown}:{port}/v1", file=sys.stderr)
            print(f"Database: {self.database}", file=sys.stderr, flush=True)
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
    guard = APIGuard(create_app(settings), guards)
    # log_config None: uvicorn's records go to the root logger's handler (cli.configure_logging,
    # which escapes control characters) rather than handlers of its own.
    config = uvicorn.Config(
        guard,
        host=host,
        port=port,
        log_config=None,
        log_level="warning",
        **uvicorn_limits(guards),
    )
    database = describe_url(settings.resolved_database_url())
    server = _AnnouncingServer(config, database, guard, warning)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down for
        pass
