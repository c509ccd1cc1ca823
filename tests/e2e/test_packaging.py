"""The Docker image's install steps, run here (Docker itself cannot run on this machine): the
locked runtime dependencies alone, without dev tools, install a working server. Plus the
Dockerfile's and compose file's promises, read from the files."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx2
import pytest
import yaml
from mcp import Client, StdioServerParameters

from tests.mcp.servers import free_port, running_server, server_env, streamable_client
from tests.mcp.workflow import call, call_error

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def test_dockerfile_install_steps_give_a_working_server(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    # The very command the image runs, with the environment in a scratch directory.
    (install,) = re.findall(r"RUN (uv sync [^\\\n]+)", DOCKERFILE)
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_COMPILE_BYTECODE": "0"}
    done = subprocess.run(
        install.split(), cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    installed = sorted(p.name for p in (venv / "lib").glob("python3*/site-packages/*"))
    assert not any(name.startswith(("pytest", "ruff", "hypothesis")) for name in installed)

    command = str(venv / "bin" / "openai-assistant-mcp")
    image_env = server_env(tmp_path / "data", HOST="0.0.0.0", PORT="8662")

    async def use() -> None:
        params = StdioServerParameters(command=command, env=image_env)
        with anyio.fail_after(60):
            async with Client(params) as client:
                made = await call(client, "create_assistant", {"model": "m", "name": "in image"})
                assert made["name"] == "in image"

    anyio.run(use)
    assert (tmp_path / "data" / "assistants.db").exists()


def test_dockerfile_promises() -> None:
    assert re.search(r"^USER app$", DOCKERFILE, re.M)  # not root
    assert re.search(r"^VOLUME /data$", DOCKERFILE, re.M)
    assert "DATA_DIR=/data" in DOCKERFILE and "HOST=0.0.0.0" in DOCKERFILE
    assert "PORT=8662" in DOCKERFILE and "EXPOSE 8662" in DOCKERFILE
    assert not re.search(r"^ENV.*TRANSPORT", DOCKERFILE, re.M)  # stdio stays the default
    assert 'ENTRYPOINT ["openai-assistant-mcp"]' in DOCKERFILE


def test_compose_is_multi_user_on_postgresql() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    mcp = compose["services"]["mcp"]
    env = mcp["environment"]
    assert env["TRANSPORT"] == "streamable-http"
    assert env["MCP_CREDENTIALS_PASSTHROUGH"] == "true"
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "ENGINE_SECRET" in env
    assert mcp["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert compose["services"]["postgres"]["image"].startswith("postgres:")


async def test_compose_settings_serve_several_callers_on_postgresql(
    new_database_url: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    """The compose file's mcp environment, as written, on this session's real PostgreSQL
    (only the database host and the interface the server binds are local to the test)."""
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    token, secret = secrets.token_hex(16), secrets.token_hex(32)
    env = {
        key: os.path.expandvars(str(value).replace("${MCP_AUTH_TOKEN:?", "${MCP_AUTH_TOKEN"))
        for key, value in compose["services"]["mcp"]["environment"].items()
    }
    env.update(
        MCP_AUTH_TOKEN=token,
        ENGINE_SECRET=secret,
        MCP_ALLOWED_HOSTS="localhost:*,127.0.0.1:*",
        DATABASE_URL=await new_database_url("postgres"),
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
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
