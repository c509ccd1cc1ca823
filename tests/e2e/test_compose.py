"""compose.yaml (multi-user, PostgreSQL with pgvector), read as Compose reads it: every setting
the server needs is set or required with a message, the README's steps supply what it requires,
and its mcp environment, as written, serves several callers on this session's real PostgreSQL.
(Compose itself cannot run here; tests/docker runs the same environment in the built image.)"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest

from openai_assistant_mcp.engine.settings import EngineSettings
from openai_assistant_mcp.settings import Settings
from tests.mcp.servers import free_port, running_server, server_env, streamable_client
from tests.mcp.workflow import call, call_error
from tests.support import compose

REPO = Path(__file__).resolve().parents[2]
# What the multi-user server cannot do without; every other setting has a working default.
NEEDED = {
    "TRANSPORT": "streamable-http",
    "MCP_CREDENTIALS_PASSTHROUGH": "true",
    "MCP_AUTH_TOKEN": None,  # the image listens on 0.0.0.0: refused to start without a token
    "MCP_ALLOWED_HOSTS": None,
    "DATABASE_URL": None,
    "ENGINE_SECRET": None,  # key hashes must survive a new container
}
SECRETS = {"MCP_AUTH_TOKEN", "ENGINE_SECRET"}


def setting_names() -> set[str]:
    return {
        info.alias or field.upper()
        for model in (Settings, EngineSettings)
        for field, info in model.model_fields.items()
    }


def test_compose_sets_or_requires_every_variable_the_server_needs() -> None:
    env = compose.load()["services"]["mcp"]["environment"]
    assert NEEDED.keys() <= env.keys()
    assert {k: env[k] for k, v in NEEDED.items() if v} == {k: v for k, v in NEEDED.items() if v}
    assert set(env) <= setting_names(), "a misspelt setting would be silently ignored"
    for reference in compose.references(compose.COMPOSE_FILE.read_text()):
        # ${VAR} alone would start the server with a blank value; messages are shown verbatim.
        assert reference.op in (":-", ":?"), f"${{{reference.name}}} has no default or message"
        if reference.op == ":?":
            assert reference.name in reference.word and "$" not in reference.word
    required = {r.name for r in compose.references(str(env)) if r.op == ":?"}
    assert required == SECRETS  # no default for a secret
    for name in SECRETS:
        with pytest.raises(compose.MissingVariable, match=name):
            compose.service_environment("mcp", {other: "x" for other in SECRETS - {name}})


def test_compose_postgres_has_pgvector_and_matches_the_url() -> None:
    services = compose.load()["services"]
    postgres, mcp = services["postgres"], services["mcp"]
    assert postgres["image"].startswith("pgvector/pgvector:pg")
    assert mcp["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = urlsplit(compose.service_environment("mcp", dict.fromkeys(SECRETS, "x"))["DATABASE_URL"])
    assert url.scheme == "postgresql+asyncpg" and url.hostname == "postgres"
    pg = postgres["environment"]
    assert (url.username, url.password, url.path) == (
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
        "/" + pg["POSTGRES_DB"],
    )
    assert "mcp-data:/data" in mcp["volumes"]


@pytest.mark.parametrize("doc", ["README.md", "docs/clients.md"])
def test_the_docs_compose_steps_supply_what_it_requires(doc: str) -> None:
    text = (REPO / doc).read_text()
    (exports,) = re.findall(r"^export (.+)\n(?:.*\n)?docker compose up -d", text, re.M)
    given = dict(re.findall(r"(\w+)=(\$\(openssl rand -hex 32\))", exports))
    assert given.keys() == SECRETS
    compose.service_environment("mcp", dict.fromkeys(given, "x"))  # nothing else required


async def test_compose_settings_serve_several_callers_on_postgresql(
    new_database_url: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    """The compose file's mcp environment, as written, on this session's real PostgreSQL
    (only the database host and the interface the server binds are local to the test)."""
    token, secret = secrets.token_hex(16), secrets.token_hex(32)
    env = compose.service_environment("mcp", {"MCP_AUTH_TOKEN": token, "ENGINE_SECRET": secret})
    env.update(
        DATABASE_URL=await new_database_url("postgres"), OPENAI_BASE_URL="http://127.0.0.1:9/v1"
    )
    port = free_port()
    full_env = server_env(tmp_path / "data", HOST="127.0.0.1", PORT=str(port), **env)
    with running_server([], full_env, tmp_path / "server.log") as server:
        url = server.url("/mcp")
        door = {"Authorization": f"Bearer {token}"}
        async with streamable_client(url, {**door, "X-OpenAI-API-Key": "sk-alice"}) as alice:
            made = await call(alice, "create_assistant", {"model": "m", "name": "alice's"})
        async with streamable_client(url, {**door, "X-OpenAI-API-Key": "sk-bob"}) as bob:
            await call_error(bob, "get_assistant", {"assistant_id": made["id"]})
            assert (await call(bob, "list_assistants", {}))["data"] == []
        async with httpx2.AsyncClient() as http:  # without the token: refused at the door
            refused = await http.post(url, json={}, headers={"X-OpenAI-API-Key": "sk-alice"})
        assert refused.status_code == 401
    assert not (tmp_path / "data" / "assistants.db").exists()  # the data went to PostgreSQL
