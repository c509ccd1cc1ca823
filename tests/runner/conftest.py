"""Fixtures for the run tests: the scripted provider and an engine on a real socket using it.

The engine runs under uvicorn on loopback (streamed responses need a real socket: httpx2's
ASGITransport buffers them), once per backend, with short poll and lease intervals. Every
JSON response the tests' SDK clients receive is checked against the spec (the session's
`spec_violations`, see tests/conftest.py), and so is every stream event they read."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx2
import openai
import pytest

from openai_assistant_mcp.engine.app import create_app
from tests.runner.engine_process import engines
from tests.runner.sse_tap import TapTransport
from tests.support.engine import SpecViolations, engine_settings, serve_on_socket
from tests.support.migrated import MigratedDatabaseURL, migrated_database_url
from tests.support.scripted_provider import ScriptedProvider
from tests.support.spec import event_problems

__all__ = ["engines", "migrated_database_url"]  # the fixtures, for the modules here

# Fast enough for tests: cancels seen within 0.1 s, dead processes' runs taken over in 2 s.
RUN_SETTINGS = {
    "RUN_POLL_INTERVAL": 0.1,
    "RUN_LEASE_SECONDS": 2.0,
    "RUN_CLIENT_POLL_MS": 20,
    "PROVIDER_MAX_RETRIES": 2,
    "PROVIDER_TIMEOUT": 10.0,
    "RUN_MAX_OUTPUT_CHARS": 200_000,  # an endless provider stream is cut within ~0.5 s
}


@pytest.fixture(scope="session")
def provider_server() -> Iterator[ScriptedProvider]:
    with ScriptedProvider() as server:
        yield server


@pytest.fixture
def provider(provider_server: ScriptedProvider) -> Iterator[ScriptedProvider]:
    """The session's provider with an empty script and no recordings."""
    provider_server.reset()
    yield provider_server
    provider_server.reset()


@pytest.fixture(scope="session")
async def runs_engine_url(
    backend: str,
    new_database_url: Callable[[str], Awaitable[str]],
    tmp_path_factory: pytest.TempPathFactory,
    provider_server: ScriptedProvider,
) -> AsyncIterator[str]:
    """An engine (fresh database of the backend) whose provider is the scripted one; it has
    no provider key of its own, so runs use the caller's key."""
    settings = engine_settings(
        await new_database_url(backend),
        tmp_path_factory.mktemp("runs-engine"),
        OPENAI_BASE_URL=provider_server.base_url,
        **RUN_SETTINGS,
    )
    with serve_on_socket(create_app(settings)) as url:
        yield url


@pytest.fixture
def tap() -> TapTransport:
    """Records the raw event streams the test's clients read (see `sse_tap`)."""
    return TapTransport()


@pytest.fixture(autouse=True)
def _run_events_match_spec(tap: TapTransport) -> Iterator[None]:
    """Fails a test during which a stream event broke the spec (JSON responses are judged by
    the session's `spec_violations`)."""
    tap.take()
    yield
    found = [
        p for events in tap.take() for event, data in events for p in event_problems(event, data)
    ]
    if found:
        pytest.fail("stream events do not match the spec:\n" + "\n".join(found[:20]), pytrace=False)


def sdk_client(
    url: str, api_key: str, violations: SpecViolations, tap: TapTransport | None = None
) -> openai.AsyncOpenAI:
    """The SDK on `url` as `api_key`; every JSON response is checked into `violations`."""
    http = httpx2.AsyncClient(
        transport=tap or TapTransport(), event_hooks={"response": [violations.hook]}, timeout=30
    )
    return openai.AsyncOpenAI(base_url=url, api_key=api_key, max_retries=0, http_client=http)


@pytest.fixture
async def oai(
    runs_engine_url: str, spec_violations: SpecViolations, tap: TapTransport
) -> AsyncIterator[openai.AsyncOpenAI]:
    """An SDK client on the runs engine as a fresh tenant; its key is `oai.api_key`."""
    client = sdk_client(runs_engine_url, "sk-runs-" + secrets.token_hex(8), spec_violations, tap)
    yield client
    await client.close()


Engine = Callable[..., Awaitable[openai.AsyncOpenAI]]


@pytest.fixture
def engine(
    provider: ScriptedProvider,
    migrated_database_url: MigratedDatabaseURL,
    tmp_path: Path,
    spec_violations: SpecViolations,
) -> Iterator[Engine]:
    """`await engine(**settings)`: an SDK client on a fresh engine (SQLite, a fresh database
    at the migrations' head) using the provider."""
    with ExitStack() as servers:

        async def start(**settings: str) -> openai.AsyncOpenAI:
            values = engine_settings(
                await migrated_database_url("sqlite"),
                tmp_path / secrets.token_hex(4),
                OPENAI_BASE_URL=provider.base_url,
                PROVIDER_MAX_RETRIES=0,
                RUN_POLL_INTERVAL=0.1,
                RUN_CLIENT_POLL_MS=20,
                **settings,
            )
            url = servers.enter_context(serve_on_socket(create_app(values)))
            http = openai.DefaultAsyncHttpxClient(
                transport=TapTransport(), event_hooks={"response": [spec_violations.hook]}
            )
            return openai.AsyncOpenAI(
                base_url=url, api_key="sk-compat-" + secrets.token_hex(6), http_client=http
            )

        yield start
