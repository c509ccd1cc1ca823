"""`GET /healthz` on both servers (issue 24): no key or token needed, nothing revealed but the
status, 200 while the store answers and 503 once it does not; real servers on real stores."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx2

from tests.mcp.servers import free_port, running_server, server_env
from tests.support.postgres import PostgresServer

TOKEN = "door-token-healthz-7c1e"


def _servers(tmp_path: Path, database_url: str | None = None) -> list[tuple[list[str], dict]]:
    extra = {"DATABASE_URL": database_url} if database_url else {}
    mcp_port, api_port = str(free_port()), str(free_port())
    mcp_env = server_env(
        tmp_path / "mcp", "http://127.0.0.1:9/v1", TRANSPORT="streamable-http", PORT=mcp_port,
        MCP_AUTH_TOKEN=TOKEN, **extra,
    )  # fmt: skip
    api_env = server_env(tmp_path / "api", "http://127.0.0.1:9/v1", API_AUTH_TOKEN=TOKEN, **extra)
    return [([], mcp_env), (["api", "--port", api_port], api_env)]


def test_healthz_needs_no_token_and_reveals_nothing(tmp_path: Path) -> None:
    for args, env in _servers(tmp_path):
        with running_server(args, env, tmp_path / "server.log") as server:
            answer = httpx2.get(server.url("/healthz"), timeout=60)
            assert answer.status_code == 200, server.log()
            assert answer.json() == {"status": "ok"}
            # The door is still shut everywhere else.
            other = "/v1/assistants" if args else "/mcp"
            assert httpx2.get(server.url(other), timeout=60).status_code == 401
            assert httpx2.post(server.url("/healthz"), timeout=60).status_code == 405


async def test_healthz_says_503_once_the_store_is_gone(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    admin = await asyncpg.connect(postgres_server.admin_dsn())
    try:
        for index in range(2):  # the MCP server, then the API
            url = await postgres_server.new_database_url("healthz")
            name = url.rsplit("/", 1)[1]
            args, env = _servers(tmp_path, url)[index]
            with running_server(args, env, tmp_path / "server.log") as server:
                assert httpx2.get(server.url("/healthz"), timeout=60).status_code == 200
                # The database goes away under the running server.
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                answer = httpx2.get(server.url("/healthz"), timeout=60)
                assert answer.status_code == 503, server.log()
                assert answer.json() == {"status": "unavailable"}
    finally:
        await admin.close()
