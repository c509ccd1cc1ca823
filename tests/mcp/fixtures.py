"""Session fixtures shared by tests/mcp and tests/e2e: the scripted model provider and
`openai-assistant-mcp` server subprocesses, each started once, on first use."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from tests.mcp.servers import (
    INITIALIZE,
    ServerProcess,
    free_port,
    raw_stdio_exchange,
    running_server,
    server_env,
)
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
    the session. MCP servers get TRANSPORT/PORT by env; `api` servers by flags.

    A name is one configuration: tests that need the same settings ask for the same name and
    share one process (each start costs seconds of CPU, and an idle server keeps polling its
    store), calling with keys or objects of their own. Asking for a started name with other
    settings is an error, not a silent reuse."""
    started: dict[str, tuple[tuple[str, ...], dict[str, str], ServerProcess]] = {}
    with ExitStack() as stack:

        def start(name: str, *args: str, **settings: str) -> ServerProcess:
            if name in started:
                first_args, first_settings, server = started[name]
                if (first_args, first_settings) != (args, settings):
                    raise ValueError(
                        f"server {name!r} was started as {first_args} {first_settings}, "
                        f"now asked for as {args} {settings}: give it another name"
                    )
                return server
            directory = tmp_path_factory.mktemp(name)
            port = str(free_port())
            env = server_env(directory / "data", model_provider_server.base_url, **settings)
            command = list(args)
            if args[:1] == ("api",):
                command += ["--port", port]
            else:
                env.setdefault("PORT", port)
                env.setdefault("HOST", "127.0.0.1")
            log_path = directory / "server.log"
            server = stack.enter_context(running_server(command, env, log_path))
            started[name] = (args, settings, server)
            return server

        yield start


# What the default configuration answers over stdio, read once (one process) by every test that
# checks it: the contract, the tool snapshots and the surface snapshots.
DEFAULT_SURFACE_METHODS = ("tools/list", "prompts/list", "resources/templates/list")


@pytest.fixture(scope="session")
def default_stdio_surface(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The console script's raw answer lines over stdio (protocol 2025-06-18, default
    settings), by method: `initialize` and each of DEFAULT_SURFACE_METHODS."""
    requests = [
        {"jsonrpc": "2.0", "id": n, "method": method}
        for n, method in enumerate(DEFAULT_SURFACE_METHODS, start=2)
    ]
    lines = raw_stdio_exchange(
        server_env(tmp_path_factory.mktemp("default-surface")),
        INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        *requests,
    )
    by_id = {json.loads(line)["id"]: line for line in lines}
    answers = {"initialize": by_id[1]}
    answers.update({r["method"]: by_id[r["id"]] for r in requests})
    return answers
