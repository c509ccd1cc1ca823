"""Session fixtures shared by tests/mcp and tests/e2e: the scripted model provider and
`openai-assistant-mcp` server subprocesses, each started once, on first use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from tests.mcp.servers import ServerProcess, free_port, running_server, server_env
from tests.support.scripted_provider import ScriptedProvider

StartServer = Callable[..., ServerProcess]


@pytest.fixture(scope="session")
def model_provider_server() -> Iterator[ScriptedProvider]:
    with ScriptedProvider() as provider:
        yield provider


@pytest.fixture
def model_provider(model_provider_server: ScriptedProvider) -> Iterator[ScriptedProvider]:
    """The session's scripted provider with an empty script and no recordings."""
    model_provider_server.reset()
    yield model_provider_server
    model_provider_server.reset()


@pytest.fixture(scope="session")
def start_server(
    tmp_path_factory: pytest.TempPathFactory, model_provider_server: ScriptedProvider
) -> Iterator[StartServer]:
    """`start_server(name, *args, **env)`: that server, started on first request and kept for
    the session. MCP servers get TRANSPORT/PORT by env; `api` servers by flags."""
    started: dict[str, ServerProcess] = {}
    with ExitStack() as stack:

        def start(name: str, *args: str, **settings: str) -> ServerProcess:
            if name not in started:
                directory = tmp_path_factory.mktemp(name)
                port = str(free_port())
                env = server_env(directory / "data", model_provider_server.base_url, **settings)
                if args[:1] == ("api",):
                    args = (*args, "--port", port)
                else:
                    env.setdefault("PORT", port)
                    env.setdefault("HOST", "127.0.0.1")
                log_path = directory / "server.log"
                started[name] = stack.enter_context(running_server(list(args), env, log_path))
            return started[name]

        yield start
