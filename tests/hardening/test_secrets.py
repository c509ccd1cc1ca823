"""A canary key goes through the whole workflow (assistant -> thread -> message -> run with a
function tool -> submit outputs -> list) at DEBUG log level, through the MCP server over
streamable HTTP with passthrough and through the REST API, including a provider that quotes
the key back in an error. The canary must reach the model provider (it was really used) and
appear nowhere else: not in results or errors, stdout/stderr, files in the data directories
(SQLite database, WAL and shared memory included), nor in a dump of the PostgreSQL database."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import openai
import pytest

from tests.hardening.conftest import ServerPool
from tests.mcp.servers import ServerProcess, streamable_client
from tests.mcp.workflow import WEATHER_TOOL, call_error, run_workflow
from tests.support.postgres import find_bin_dir
from tests.support.scripted_provider import Call, Error, ScriptedProvider, Text, ToolCalls

SECRET_PART = secrets.token_hex(16)
CANARY = f"sk-canary-{SECRET_PART}"


def leaks(data: bytes | str) -> list[str]:
    """Pieces of the canary found in `data`: the whole key, or any 12 characters of its
    random part (a key cut short or partly masked still leaks)."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    pieces = {SECRET_PART[i : i + 12] for i in range(len(SECRET_PART) - 11)}
    return sorted(piece for piece in pieces | {CANARY} if piece in text)


def files_under(directory: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def _provider_quotes_the_key(provider: ScriptedProvider) -> None:
    provider.script(Error(401, f"Incorrect API key provided: {CANARY}.", code="invalid_api_key"))


async def test_canary_key_through_mcp_and_rest_leaks_nowhere(
    pool: ServerPool, model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    mcp, api = pool.get("secrets-http"), pool.get("secrets-api")
    seen: list[str] = []  # every answer the clients got, as text

    # 1. MCP over streamable HTTP, passthrough: the key rides in X-OpenAI-API-Key.
    async with streamable_client(mcp.url("/mcp"), {"X-OpenAI-API-Key": CANARY}) as client:
        made = await run_workflow(client, model_provider, "canary")
        seen.append(repr(made))
        seen.append(await call_error(client, "get_assistant", {"assistant_id": "asst_missing"}))
        _provider_quotes_the_key(model_provider)
        failed = await client.call_tool(
            "create_thread_and_run",
            {"assistant_id": made["assistant"]["id"], "thread": {"messages": [{"content": "x"}]}},
        )
        assert not failed.is_error  # a failed run is a normal result (issue 9)
        assert failed.structured_content["run"]["status"] == "failed"
        seen.append(failed.content[0].text + repr(failed.structured_content))
    assert {r.api_key for r in model_provider.requests} == {CANARY}  # the key was used

    # 2. The REST API through the openai SDK, with the key as the bearer.
    model_provider.reset()
    seen.append(await _rest_workflow(api, model_provider))
    assert {r.api_key for r in model_provider.requests} == {CANARY}

    # While running: the SQLite WAL and shared memory files hold recent writes.
    found = {where: leaks(data) for where, data in _evidence(pool, mcp, api).items()}
    stopped = [mcp, api]
    for server in stopped:
        server.process.terminate()
    for server in stopped:
        assert server.process.wait(30) == 0  # a clean exit, its last log lines written
    after = _evidence(pool, mcp, api)
    found |= {f"{where} (after stop)": leaks(data) for where, data in after.items()}
    found["answers"] = leaks("\n".join(seen))
    if pool.postgres_url:
        found["pg_dump"] = leaks(_pg_dump(pool.postgres_url))
    assert "DEBUG" in mcp.log() and "DEBUG" in api.log()  # the logs were at their most talkative
    assert {where: pieces for where, pieces in found.items() if pieces} == {}
    names = sorted({Path(where.split(" ")[0]).name for where in found})
    print(f"\ncanary absent from {len(found)} places: {', '.join(names)}")


def _evidence(pool: ServerPool, *servers: ServerProcess) -> dict[str, bytes]:
    evidence: dict[str, bytes] = {}
    for server in servers:
        evidence[str(server.log_path)] = server.log_path.read_bytes()  # stdout and stderr
        evidence |= files_under(server.log_path.parent / "data")
    assert any(name.endswith("assistants.db") for name in evidence)
    return evidence


async def _rest_workflow(api: ServerProcess, provider: ScriptedProvider) -> str:
    provider.script(
        ToolCalls(Call("get_weather", {"city": "Oslo"}, id="call_canary")),
        Text("Cold and clear in Oslo."),
    )
    answers: list[str] = []
    async with openai.AsyncOpenAI(api_key=CANARY, base_url=api.url("/v1"), max_retries=0) as sdk:
        assistant = await sdk.beta.assistants.create(model="m", tools=[WEATHER_TOOL])
        thread = await sdk.beta.threads.create()
        await sdk.beta.threads.messages.create(thread.id, role="user", content="Oslo weather?")
        run = await sdk.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
        )
        assert run.status == "requires_action", run
        run = await sdk.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": "call_canary", "output": "-3 C"}],
            poll_interval_ms=50,
        )
        assert run.status == "completed"
        messages = await sdk.beta.threads.messages.list(thread.id, order="asc")
        assert [m.role for m in messages.data] == ["user", "assistant"]
        answers += [run.model_dump_json(), messages.model_dump_json()]
        with pytest.raises(openai.NotFoundError) as missing:
            await sdk.beta.assistants.retrieve("asst_missing")
        answers.append(str(missing.value))

        _provider_quotes_the_key(provider)
        failed = await sdk.beta.threads.create_and_run_poll(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "x"}]},
            poll_interval_ms=50,
        )
        assert failed.status == "failed" and failed.last_error is not None
        assert failed.last_error.code == "invalid_api_key"
        answers.append(failed.model_dump_json())
    return "\n".join(answers)


def _pg_dump(url: str) -> bytes:
    """The whole database as SQL text (pg_dump of the URL's database)."""
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    dump = subprocess.run(
        [
            str(find_bin_dir() / "pg_dump"),
            "-h", str(parts.host), "-p", str(parts.port), "-U", str(parts.username),
            "--no-owner", str(parts.database),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    assert b"CREATE TABLE" in dump.stdout and b"asst_" in dump.stdout  # it holds the data
    return dump.stdout
