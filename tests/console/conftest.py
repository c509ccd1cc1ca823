"""The console's tests: a real `api` server (scripted model), a real headless chromium."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.mcp.fixtures import model_provider, model_provider_server, start_server
from tests.mcp.servers import ServerProcess
from tests.support.browser import Console, chromium

__all__ = ["model_provider", "model_provider_server", "start_server"]


@pytest.fixture(scope="session")
def console_server(start_server: Any) -> ServerProcess:
    """`openai-assistant-mcp api` with the console on (its default)."""
    server: ServerProcess = start_server("console-api", "api")
    return server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def console(browser: Any, console_server: ServerProcess) -> Console:
    browser.delete_all_cookies()
    return Console(browser, console_server.url(""))


@pytest.fixture
def key() -> str:
    """A fresh API key: a tenant of its own."""
    return f"sk-console-{secrets.token_hex(8)}"


@pytest.fixture
def rest(console_server: ServerProcess) -> Iterator[Any]:
    """rest(key): the official SDK on the console's server, as that key's tenant."""
    clients: list[openai.OpenAI] = []

    def client(api_key: str) -> openai.OpenAI:
        made = openai.OpenAI(api_key=api_key, base_url=console_server.url("/v1"), max_retries=0)
        clients.append(made)
        return made

    yield client
    for made in clients:
        made.close()
