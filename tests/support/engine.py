"""The engine for tests: in-process over ASGI (with spec validation) or on a real socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import openai
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text

from openai_assistant_mcp.engine.app import create_app
from openai_assistant_mcp.engine.settings import EngineSettings
from openai_assistant_mcp.engine.state import EngineState
from openai_assistant_mcp.engine.store import tables

from .spec import check_response

BASE_URL = "http://engine/v1"
TEST_SECRET = "test-tenant-secret-0123456789abcdef"


def engine_settings(database_url: str, data_dir: Path, **overrides: Any) -> EngineSettings:
    """Settings for a test engine: explicit DB and data dir, nothing read from the environment."""
    values: dict[str, Any] = {
        "DATA_DIR": data_dir,
        "DATABASE_URL": database_url,
        "ENGINE_SECRET": TEST_SECRET,
    }
    values.update(overrides)
    return EngineSettings.model_validate(values)


@asynccontextmanager
async def running_app(settings: EngineSettings) -> AsyncIterator[FastAPI]:
    """create_app(settings) with its lifespan entered (store open and migrated)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def engine_state(app: FastAPI) -> EngineState:
    return app.state.engine


class SpecViolations:
    """Collects responses that do not match the spec; tests fail on any (see conftest)."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.checked = 0

    async def hook(self, response: httpx2.Response) -> None:
        content_type = response.headers.get("content-type", "")
        if content_type.startswith(("text/event-stream", "application/octet-stream")):
            return  # event streams are checked event by event; file bytes are not JSON
        await response.aread()
        self.checked += 1
        request = response.request
        self.found += check_response(
            request.method, request.url.path, response.status_code, content_type, response.content
        )

    def take(self) -> list[str]:
        found, self.found = self.found, []
        return found


def asgi_http_client(
    app: FastAPI, violations: SpecViolations | None = None, **kwargs: Any
) -> httpx2.AsyncClient:
    """An httpx2 client that calls `app` in-process; every response is checked against the spec."""
    hooks = {"response": [violations.hook]} if violations is not None else {}
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),
        base_url="http://engine",
        event_hooks=hooks,
        **kwargs,
    )


def openai_client(
    app: FastAPI, api_key: str, violations: SpecViolations | None = None
) -> openai.AsyncOpenAI:
    """The official SDK bound to the in-process app, authenticated with `api_key`."""
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=BASE_URL,
        max_retries=0,
        http_client=asgi_http_client(app, violations),
    )


@contextmanager
def serve_on_socket(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port in a background thread; yields the
    base URL (http://127.0.0.1:PORT/v1). The app's lifespan runs in that thread's loop."""
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without it
    # each keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a readiness wait: slow only on a loaded machine
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


async def dump_tables(app: FastAPI) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (and the Alembic version), for before/after comparisons."""
    db = engine_state(app).db
    dump: dict[str, list[dict[str, Any]]] = {}
    async with db.read() as conn:
        for table in tables.metadata.sorted_tables:
            rows = await conn.execute(table.select().order_by(*table.primary_key.columns))
            dump[table.name] = [dict(row._mapping) for row in rows]
        version = await conn.execute(text("SELECT version_num FROM alembic_version"))
        dump["alembic_version"] = [dict(row._mapping) for row in version]
    return dump
