"""Who gets in: Host/Origin checks against DNS rebinding, the access tokens (MCP_AUTH_TOKEN,
API_AUTH_TOKEN), refusal to listen beyond loopback without one, and isolation between keys
when the door is a token (100 concurrent sessions)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from contextlib import ExitStack
from pathlib import Path

import anyio
import httpx2
import openai
import pytest

from tests.hardening.conftest import API_TOKEN, MCP_TOKEN, ServerPool, wait_for_port
from tests.mcp.servers import (
    COMMAND,
    INITIALIZE,
    ServerProcess,
    free_port,
    server_env,
    sse_client_for,
    stdio_client,
    streamable_client,
)
from tests.mcp.workflow import call, call_error

MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def open_http(pool: ServerPool) -> ServerProcess:
    """Streamable HTTP with the default access settings (loopback names only, no token)."""
    return pool.get("open-http")


@pytest.fixture(scope="module")
def token_http(pool: ServerPool) -> ServerProcess:
    """Passthrough behind MCP_AUTH_TOKEN, with one extra allowed host and origin."""
    return pool.get("token-http")


@pytest.fixture(scope="module")
def token_sse(pool: ServerPool) -> ServerProcess:
    return pool.get("token-sse")


@pytest.fixture(scope="module")
def token_api(pool: ServerPool) -> ServerProcess:
    return pool.get("token-api")


async def _status(method: str, url: str, headers: dict[str, str], json: object = None) -> int:
    """The status of one request (a streamed answer is not read)."""
    async with (
        httpx2.AsyncClient(timeout=10) as http,
        http.stream(method, url, headers=headers, json=json) as response,
    ):
        return response.status_code


# --- DNS rebinding: Host and Origin ---------------------------------------------------------------


async def test_foreign_host_or_origin_is_refused_on_every_transport(
    pool: ServerPool, open_http: ServerProcess, token_sse: ServerProcess
) -> None:
    api = pool.get("open-api")
    targets = [
        ("POST", open_http, "/mcp", INITIALIZE),
        ("GET", token_sse, "/sse", None),  # the Host check comes before the token's
        ("POST", token_sse, "/messages/?session_id=" + "0" * 32, INITIALIZE),
        ("GET", api, "/v1/assistants", None),
    ]
    for method, server, path, body in targets:
        url = server.url(path)
        # DNS rebinding: attacker.example now resolves to 127.0.0.1, the browser keeps its name.
        rebinding = {**MCP_HEADERS, "Host": f"attacker.example:{server.port}"}
        assert await _status(method, url, rebinding, body) == 421, url
        cross_site = {**MCP_HEADERS, "Origin": "http://attacker.example"}
        assert await _status(method, url, cross_site, body) == 403, url
        # A loopback page and the loopback host itself pass the door.
        local = {**MCP_HEADERS, "Origin": "http://localhost:3000"}
        if server is token_sse:
            local["Authorization"] = f"Bearer {MCP_TOKEN}"
        assert await _status(method, url, local, body) not in (401, 403, 421), url

    async with httpx2.AsyncClient() as http:
        refused = await http.get(api.url("/v1/assistants"), headers={"Host": "attacker.example"})
        error = refused.json()["error"]
        assert error["code"] == "host_not_allowed"
        assert error["message"].startswith("Host 'attacker.example' is not allowed")
        assert "API_ALLOWED_HOSTS" in error["message"]
        # The MCP transports refuse in JSON-RPC, naming their own setting.
        rebinding = {**MCP_HEADERS, "Host": "attacker.example"}
        refused = await http.post(open_http.url("/mcp"), headers=rebinding, json=INITIALIZE)
        assert refused.status_code == 421
        message = refused.json()["error"]["message"]
        assert message.startswith("Host 'attacker.example' is not allowed"), message
        assert "MCP_ALLOWED_HOSTS" in message
        cross_site = {**MCP_HEADERS, "Origin": "http://attacker.example"}
        refused = await http.post(open_http.url("/mcp"), headers=cross_site, json=INITIALIZE)
        assert refused.status_code == 403
        assert "(MCP_ALLOWED_ORIGINS)" in refused.json()["error"]["message"]


async def test_configured_hosts_and_origins_are_allowed(token_http: ServerProcess) -> None:
    url = token_http.url("/mcp")
    door = {**MCP_HEADERS, "Authorization": f"Bearer {MCP_TOKEN}"}
    port = token_http.port
    allowed = {**door, "Host": f"mcp.example.test:{port}", "Origin": "https://app.example.test"}
    assert await _status("POST", url, allowed, INITIALIZE) == 200
    # Only what was configured: localhost is no longer in the list, nor another origin.
    assert await _status("POST", url, {**door, "Host": f"localhost:{port}"}, INITIALIZE) == 421
    other_origin = {**door, "Origin": "https://evil.example.test"}
    assert await _status("POST", url, other_origin, INITIALIZE) == 403


# --- the access token -----------------------------------------------------------------------------


async def test_mcp_requests_need_the_token(
    token_http: ServerProcess, token_sse: ServerProcess
) -> None:
    for method, url, body in [
        ("POST", token_http.url("/mcp"), INITIALIZE),
        ("GET", token_http.url("/mcp"), None),
        ("GET", token_sse.url("/sse"), None),
        ("POST", token_sse.url("/messages/?session_id=" + "0" * 32), INITIALIZE),
    ]:
        assert await _status(method, url, MCP_HEADERS, body) == 401, url
        wrong = {**MCP_HEADERS, "Authorization": f"Bearer {MCP_TOKEN}x"}
        assert await _status(method, url, wrong, body) == 401, url
        # An OpenAI key in the key header does not open the door either.
        key_only = {**MCP_HEADERS, "X-OpenAI-API-Key": MCP_TOKEN}
        assert await _status(method, url, key_only, body) == 401, url

    async with httpx2.AsyncClient() as http:
        refused = await http.post(token_http.url("/mcp"), json=INITIALIZE, headers=MCP_HEADERS)
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "MCP_AUTH_TOKEN" in refused.json()["error_description"]


async def test_with_the_token_the_openai_key_comes_only_from_its_own_header(
    token_http: ServerProcess, token_sse: ServerProcess
) -> None:
    key = "sk-behind-door-" + secrets.token_hex(8)
    door = {"Authorization": f"Bearer {MCP_TOKEN}"}
    async with streamable_client(token_http.url("/mcp"), door) as client:
        # The token is the server's door, never taken for the caller's OpenAI key.
        error = await call_error(client, "list_assistants", {})
        assert error.startswith("No API key: send it in the X-OpenAI-API-Key header")
    async with streamable_client(token_http.url("/mcp"), {**door, "X-OpenAI-API-Key": key}) as c:
        made = await call(c, "create_assistant", {"model": "m", "name": "behind the door"})
    async with sse_client_for(token_sse.url("/sse"), {**door, "X-OpenAI-API-Key": key}) as c:
        # Another server, its own engine: the key works there too, and sees nothing of this one.
        page = await call(c, "list_assistants", {})
        assert made["id"] not in {a["id"] for a in page["data"]}
    assert MCP_TOKEN not in token_http.log() and key not in token_http.log()


async def test_rest_api_token_and_caller_key(token_api: ServerProcess, tmp_path: Path) -> None:
    base = token_api.url("/v1")
    alice, bob = "sk-alice-" + secrets.token_hex(6), "sk-bob-" + secrets.token_hex(6)

    def sdk(key: str, token: str = API_TOKEN) -> openai.AsyncOpenAI:
        headers = {"X-OpenAI-API-Key": key}
        return openai.AsyncOpenAI(api_key=token, base_url=base, default_headers=headers)

    async with sdk(alice) as as_alice, sdk(bob) as as_bob, sdk(alice, "wrong") as no_door:
        made = await as_alice.beta.assistants.create(model="m", name="alice's")
        assert (await as_alice.beta.assistants.retrieve(made.id)).name == "alice's"
        with pytest.raises(openai.NotFoundError):  # tenancy follows X-OpenAI-API-Key
            await as_bob.beta.assistants.retrieve(made.id)
        with pytest.raises(openai.AuthenticationError) as refused:
            await no_door.beta.assistants.list()
    assert refused.value.code == "invalid_access_token"
    assert "API_AUTH_TOKEN" in refused.value.message

    # Remote mode reaches it with ASSISTANTS_API_TOKEN; the caller's key rides along.
    env = server_env(
        tmp_path, ASSISTANTS_API_URL=base, ASSISTANTS_API_TOKEN=API_TOKEN, OPENAI_API_KEY=alice
    )
    with anyio.fail_after(60):
        async with stdio_client(env) as client:
            found = await call(client, "get_assistant", {"assistant_id": made.id})
    assert found["name"] == "alice's"


# --- listening beyond loopback --------------------------------------------------------------------


def test_no_listening_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    env = server_env(tmp_path)
    commands = {
        "MCP_AUTH_TOKEN": ["--transport", "streamable-http", "--host", "0.0.0.0"],
        "API_AUTH_TOKEN": ["api", "--host", "0.0.0.0"],
    }
    started = {
        setting: subprocess.Popen(
            [COMMAND, *args, "--port", str(free_port())],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for setting, args in commands.items()
    }
    for setting, process in started.items():
        _, stderr = process.communicate(timeout=60)
        assert process.returncode != 0
        message = stderr.strip().splitlines()[-1]
        assert message.startswith("Refusing to listen on '0.0.0.0' without an access token")
        assert setting in message and "--insecure-no-auth" in message


def test_the_opt_out_listens_beyond_loopback(tmp_path: Path) -> None:
    env = server_env(tmp_path)
    mcp_args = ["--transport", "streamable-http", "--insecure-no-auth", "--host", "0.0.0.0"]
    api_args = ["api", "--insecure-no-auth", "--host", "0.0.0.0"]
    with ExitStack() as stack:
        servers = []
        for name, args in (("mcp", mcp_args), ("api", api_args)):
            log = stack.enter_context((tmp_path / f"{name}.log").open("wb"))
            port = free_port()
            process = subprocess.Popen(
                [COMMAND, *args, "--port", str(port)], env=env, stdout=log, stderr=log
            )
            servers.append(ServerProcess(process, port, tmp_path / f"{name}.log"))
            stack.callback(process.wait, 15)
            stack.callback(process.terminate)
        for server in servers:
            wait_for_port(server)  # it listens


# --- isolation when the door is a token -----------------------------------------------------------


async def test_isolation_of_100_concurrent_sessions_behind_the_token(
    token_http: ServerProcess,
) -> None:
    """tests/mcp/test_passthrough.py proves isolation with keys alone; here the token takes
    the Authorization header, so each caller's identity rests on X-OpenAI-API-Key only."""
    url = token_http.url("/mcp")
    keys = [f"sk-iso-door-{i}-{secrets.token_hex(8)}" for i in range(10)]
    made: dict[int, set[str]] = {i: set() for i in range(10)}
    all_made = asyncio.Event()
    seen: dict[int, set[str]] = {}

    async def session(n: int) -> None:
        mine = n % 10
        headers = {"Authorization": f"Bearer {MCP_TOKEN}", "X-OpenAI-API-Key": keys[mine]}
        async with streamable_client(url, headers) as client:
            assistant = await call(client, "create_assistant", {"model": "m", "name": f"s{n}"})
            made[mine].add(assistant["id"])
            if sum(map(len, made.values())) == 100:
                all_made.set()
            await all_made.wait()
            page = await call(client, "list_assistants", {"limit": 100})
            seen.setdefault(mine, set()).update(a["id"] for a in page["data"])

    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            for n in range(100):
                group.start_soon(session, n)
    assert all(seen[i] == made[i] and len(made[i]) == 10 for i in range(10))
