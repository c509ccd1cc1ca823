"""The Docker image, run for real: scripts/docker_ci.sh builds it with buildah and runs this
module (marker `docker`, deselected in the main run) with OAM_DOCKER_IMAGE naming the image.

Each test runs the image's server in a fresh working container with `buildah run` (chroot
isolation: the image's user, environment and /data volume; the host's network, so an HTTP
server inside listens on the host's loopback, and the scripted provider on the host is
reachable from inside)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from openai_assistant_mcp.mcp.tools.registry import all_tools
from tests.e2e.test_mcpo import MCPO
from tests.mcp.servers import free_port, stop_process, streamable_client
from tests.mcp.workflow import call, call_error
from tests.support import compose
from tests.support.scripted_provider import ScriptedProvider, Text

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
APP_UID = 10001  # the Dockerfile's `useradd --uid`
MCPO_KEY = "sk-mcpo-docker-" + secrets.token_hex(6)
# The image serves every tool of this tree (it was built from it).
TOOL_NAMES = [tool.name for tool in all_tools()]
# The server's own process (buildah's chroot runtime and exec helper sit above it).
SERVER_ARGV = ["/app/.venv/bin/python", "/app/.venv/bin/openai-assistant-mcp"]


def buildah(*args: str) -> str:
    done = subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"buildah {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def image() -> str:
    name = os.environ.get("OAM_DOCKER_IMAGE")
    if not name:
        pytest.fail("OAM_DOCKER_IMAGE is not set: run scripts/docker_ci.sh")
    return name


@pytest.fixture
def container(image: str) -> Iterator[str]:
    """A fresh working container of the image (its own /data volume), removed afterwards."""
    name = buildah("from", "--pull=never", "--quiet", image)
    try:
        yield name
    finally:
        buildah("rm", name)


def run_args(container: str, *command: str, **env: str) -> list[str]:
    """`buildah run` of `command` in `container` with `env` added (what `docker run -e` does)."""
    settings = [f"--env={key}={value}" for key, value in env.items()]
    return ["buildah", "run", "--isolation", "chroot", *settings, container, "--", *command]


def run_in(container: str, *command: str) -> str:
    done = subprocess.run(run_args(container, *command), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_image_config_is_the_documented_one(image: str) -> None:
    config = json.loads(buildah("inspect", "--type", "image", image))["OCIv1"]["config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert config["User"] == "app"
    assert config["Entrypoint"] == ["openai-assistant-mcp"]
    assert "/data" in config["Volumes"] and "8662/tcp" in config["ExposedPorts"]
    assert (env["DATA_DIR"], env["HOST"], env["PORT"]) == ("/data", "0.0.0.0", "8662")
    assert "TRANSPORT" not in env  # stdio by default, for `docker run -i`
    assert env["PATH"].startswith("/app/.venv/bin:")


def test_runs_as_app_with_what_the_tools_need(container: str) -> None:
    assert run_in(container, "id", "-u") == str(APP_UID)
    assert run_in(container, "stat", "-c", "%U", "/data") == "app"  # the volume is writable
    assert run_in(container, "sh", "-c", "command -v bwrap") == "/usr/bin/bwrap"  # sandbox
    # No build tools in the runtime image: uv was only mounted during the build.
    assert run_in(container, "sh", "-c", "command -v uv || echo none") == "none"
    # file_search's local embedding models, the default (MiniLM) and multilingual e5.
    models = (
        "from openai_assistant_mcp.engine.vectors.local_models import MINILM, E5, available\n"
        "assert available(MINILM) and available(E5), 'a local embedding model is missing'"
    )
    run_in(container, "python", "-c", models)
    # code_interpreter's Python, prepared at build time (the sandbox itself cannot start under
    # buildah's chroot isolation: the kernel refuses new namespaces in a chroot).
    venv = "/home/app/.cache/openai-assistant-mcp/sandbox-venv"
    imports = "import numpy, pandas, matplotlib, scipy; print(numpy.arange(5).sum())"
    assert run_in(container, f"{venv}/bin/python", "-c", imports) == "10"


def test_sandbox_check_in_the_image(container: str) -> None:
    """`sandbox check` inside the image: every probe holds where the machine lets the container
    make namespaces (Docker with compose.yaml's security_opt); where it does not (buildah's
    chroot isolation on this CI machine), exactly one line says so and names the fix, never a
    probe blamed on the sandbox's limits."""
    done = subprocess.run(
        run_args(container, "openai-assistant-mcp", "sandbox", "check"),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode == 0:
        assert done.stdout.strip().endswith("all probes held"), done.stdout
        return
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout + done.stderr
    assert lines[0].startswith("sandbox unavailable: this machine refuses bubblewrap the ")
    assert "seccomp=./deploy/seccomp-bubblewrap.json" in lines[0]
    pytest.skip(f"the sandbox cannot start here, and says so: {lines[0][:200]}")


def stdio_session(container: str, provider: ScriptedProvider, key: str, errlog: TextIO) -> Client:
    """The MCP SDK's stdio client on `docker run -i`'s equivalent: the server inside, on pipes."""
    command = run_args(
        container,
        "openai-assistant-mcp",
        OPENAI_API_KEY=key,
        OPENAI_BASE_URL=provider.base_url,
    )
    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    return Client(stdio_client(params, errlog=errlog))


async def test_stdio_server_keeps_its_data_in_the_volume(
    container: str, model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    key = "sk-docker-" + secrets.token_hex(6)
    log = tmp_path / "stderr.log"
    model_provider.script(Text("Hello from inside the image."))
    with log.open("w") as errlog, anyio.fail_after(120):
        async with stdio_session(container, model_provider, key, errlog) as client:
            assert [t.name for t in (await client.list_tools()).tools] == TOOL_NAMES
            made = await call(client, "create_assistant", {"model": "m", "name": "in docker"})
            got = await call(client, "get_assistant", {"assistant_id": made["id"]})
            assert got["name"] == "in docker"
            done = await call(
                client,
                "create_thread_and_run",
                {"assistant_id": made["id"], "thread": {"messages": [{"content": "hi"}]}},
            )
    assert done["run"]["status"] == "completed", log.read_text()
    assert "Hello from inside the image." in json.dumps(done["messages"])
    assert model_provider.requests[-1].api_key == key  # the engine inside reached the host
    # The store is in /data, written by the server as `app`; a second server finds it there.
    owners = run_in(container, "stat", "-c", "%n %U", "/data/assistants.db", "/data/secret.key")
    assert owners.splitlines() == ["/data/assistants.db app", "/data/secret.key app"]
    assert run_in(container, "stat", "-c", "%a", "/data/secret.key") == "600"
    with log.open("a") as errlog, anyio.fail_after(60):
        async with stdio_session(container, model_provider, key, errlog) as client:
            again = await call(client, "get_assistant", {"assistant_id": made["id"]})
    assert again["name"] == "in docker"
    assert key not in log.read_text()


def descendants(pid: int) -> list[int]:
    """The process ids below `pid` (buildah -> its chroot runtime -> the server)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for child in Path("/proc").glob("[0-9]*"):
            try:
                stat = (child / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(child.name))
                frontier.append(int(child.name))
    return found


def uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited:\n{log.read_text()}"
        try:
            httpx2.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
            return
        except httpx2.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"server did not listen within 60 s:\n{log.read_text()}")


@contextmanager
def http_server_in(container: str, port: int, log: Path, **env: str) -> Iterator[int]:
    """The image's server in `container`, started as the image starts it; yields the id of the
    server's own process once its port answers (stopping buildah stops it)."""
    command = run_args(container, "openai-assistant-mcp", PORT=str(port), **env)
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=out)
    try:
        wait_for_port(port, server, log)
        (pid,) = [
            p
            for p in descendants(server.pid)
            if Path(f"/proc/{p}/cmdline").read_text().split("\0")[:2] == SERVER_ARGV
        ]
        yield pid
    finally:
        server.terminate()
        server.wait(30)


async def test_streamable_http_with_token_and_passthrough(
    container: str, model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    """The teams setup: TRANSPORT/PORT from the environment, HOST=0.0.0.0 from the image,
    MCP_AUTH_TOKEN at the door and each caller's own key, reached from the host."""
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / "server.log"
    settings = {
        "TRANSPORT": "streamable-http",
        "MCP_AUTH_TOKEN": token,
        "MCP_CREDENTIALS_PASSTHROUGH": "true",
        "OPENAI_BASE_URL": model_provider.base_url,
    }
    with http_server_in(container, port, log, **settings) as pid:
        assert uid_of(pid) == APP_UID
        assert f"at http://0.0.0.0:{port}/mcp" in log.read_text()

        url = f"http://127.0.0.1:{port}/mcp"
        door = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient() as http:  # without the token: refused at the door
            refused = await http.post(url, json={}, headers={"X-OpenAI-API-Key": "sk-alice"})
        assert refused.status_code == 401
        async with streamable_client(url, {**door, "X-OpenAI-API-Key": "sk-alice"}) as alice:
            made = await call(alice, "create_assistant", {"model": "m", "name": "alice's"})
            got = await call(alice, "get_assistant", {"assistant_id": made["id"]})
            assert got["name"] == "alice's"
        async with streamable_client(url, {**door, "X-OpenAI-API-Key": "sk-bob"}) as bob:
            await call_error(bob, "get_assistant", {"assistant_id": made["id"]})
            assert (await call(bob, "list_assistants", {}))["data"] == []
        async with streamable_client(url, door) as nobody:  # passthrough: no key, no service
            await call_error(nobody, "list_assistants", {})
    assert run_in(container, "stat", "-c", "%U", "/data/assistants.db") == "app"
    server_log = log.read_text()
    assert "sk-alice" not in server_log and token not in server_log


async def test_compose_mcp_service_in_the_image_on_postgresql(
    container: str, new_database_url: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    """compose.yaml's mcp environment, as written, in the image; the database is this session's
    PostgreSQL instead of the compose service (the one thing Compose would provide)."""
    token = secrets.token_hex(16)
    env = compose.service_environment(
        "mcp", {"MCP_AUTH_TOKEN": token, "ENGINE_SECRET": secrets.token_hex(32)}
    )
    env["DATABASE_URL"] = await new_database_url("postgres")
    port = free_port()
    with http_server_in(container, port, tmp_path / "server.log", **env):
        url = f"http://127.0.0.1:{port}/mcp"
        door = {"Authorization": f"Bearer {token}"}
        async with streamable_client(url, {**door, "X-OpenAI-API-Key": "sk-alice"}) as alice:
            made = await call(alice, "create_assistant", {"model": "m", "name": "on postgres"})
        async with streamable_client(url, {**door, "X-OpenAI-API-Key": "sk-bob"}) as bob:
            await call_error(bob, "get_assistant", {"assistant_id": made["id"]})
    assert run_in(container, "ls", "/data") == ""  # nothing in SQLite: it went to PostgreSQL


@pytest.fixture
def mcpo_in_front(
    container: str, model_provider: ScriptedProvider, tmp_path: Path
) -> Iterator[str]:
    """docs/clients.md's OpenWebUI method: the image's SSE server with passthrough and a token,
    mcpo (as the page runs it) in front with both headers; yields mcpo's base URL."""
    token, port = secrets.token_hex(16), free_port()
    settings = {
        "TRANSPORT": "sse",
        "MCP_AUTH_TOKEN": token,
        "MCP_CREDENTIALS_PASSTHROUGH": "true",
        "OPENAI_BASE_URL": model_provider.base_url,
    }
    headers = {"Authorization": f"Bearer {token}", "X-OpenAI-API-Key": MCPO_KEY}
    with http_server_in(container, port, tmp_path / "server.log", **settings):
        mcpo_port = free_port()
        command = ["uvx", *MCPO, "--host", "127.0.0.1", "--port", str(mcpo_port)]
        command += ["--server-type", "sse", "--header", json.dumps(headers), "--"]
        log = tmp_path / "mcpo.log"
        with log.open("wb") as out:
            mcpo = subprocess.Popen(
                [*command, f"http://127.0.0.1:{port}/sse"], stdout=out, stderr=out
            )
        try:
            base = f"http://127.0.0.1:{mcpo_port}"
            deadline = time.monotonic() + 180  # a fresh machine installs mcpo first
            while not answers(f"{base}/openapi.json"):
                assert mcpo.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
            yield base
        finally:
            stop_process(mcpo)


def answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=2).status_code == 200
    except httpx2.TransportError:
        return False


async def test_a_run_through_mcpo_in_front_of_the_image(
    mcpo_in_front: str, model_provider: ScriptedProvider
) -> None:
    model_provider.script(Text("Use a list comprehension."))
    async with httpx2.AsyncClient(timeout=60) as http:
        spec = (await http.get(f"{mcpo_in_front}/openapi.json")).json()
        assert {path.strip("/") for path in spec["paths"]} == set(TOOL_NAMES)
        made = await http.post(f"{mcpo_in_front}/create_assistant", json={"model": "m"})
        assistant = re.search(r"asst_\w+", made.text)
        assert made.status_code == 200 and assistant, made.text
        arguments = {
            "assistant_id": assistant.group(),
            "thread": {"messages": [{"content": "How do I square a list?"}]},
        }
        answer = await http.post(f"{mcpo_in_front}/create_thread_and_run", json=arguments)
    assert answer.status_code == 200, answer.text
    assert ": completed." in answer.text and "Use a list comprehension." in answer.text
    assert model_provider.requests[-1].api_key == MCPO_KEY


def test_beyond_loopback_the_server_needs_a_token(container: str) -> None:
    """HOST=0.0.0.0 (the image's) without MCP_AUTH_TOKEN: refused at start, naming it."""
    command = run_args(container, "openai-assistant-mcp", TRANSPORT="sse", PORT=str(free_port()))
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "MCP_AUTH_TOKEN" in refused.stderr, refused.stderr


async def test_host_is_honoured(container: str, tmp_path: Path) -> None:
    """HOST=127.0.0.1 overrides the image's: loopback only, where no token is needed."""
    port, log = free_port(), tmp_path / "server.log"
    with http_server_in(container, port, log, TRANSPORT="streamable-http", HOST="127.0.0.1"):
        assert f"at http://127.0.0.1:{port}/mcp" in log.read_text()
        async with streamable_client(f"http://127.0.0.1:{port}/mcp") as client:
            assert [t.name for t in (await client.list_tools()).tools] == TOOL_NAMES
