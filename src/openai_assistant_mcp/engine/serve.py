"""Serve the engine's REST API with uvicorn (`openai-assistant-mcp api`)."""

from __future__ import annotations

import socket
import sys

import uvicorn

from .app import create_app
from .settings import EngineSettings
from .store.database import describe_url


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that says where it listens once its socket is bound."""

    def __init__(self, config: uvicorn.Config, database: str) -> None:
        super().__init__(config)
        self.database = database

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"Assistants API listening on http://{shown}:{port}/v1", file=sys.stderr)
            print(f"Database: {self.database}", file=sys.stderr, flush=True)


def serve_api(settings: EngineSettings, host: str = "127.0.0.1", port: int = 8663) -> None:
    """Run the API until interrupted. Once it listens, says on stderr where (the real port, so
    port 0 picks a free one) and which database it uses (password hidden)."""
    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning")
    server = _AnnouncingServer(config, describe_url(settings.resolved_database_url()))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down for
        pass
