"""Durability: `kill -9` an engine mid-run and start it again; two engine processes on one
PostgreSQL database share runs (each executed once, readable and cancellable from both)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx2
import openai

from tests.runner.conftest import sdk_client
from tests.runner.engine_process import EngineProcess
from tests.support.engine import SpecViolations
from tests.support.postgres import PostgresServer
from tests.support.scripted_provider import ScriptedProvider, Text

SLOW = "slow " * 300  # 6 s at 0.02 s a word: long enough to be interrupted


async def _terminal(client: openai.AsyncOpenAI, thread_id: str, run_id: str) -> str:
    deadline = time.monotonic() + 120
    while True:
        run = await client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status in ("completed", "failed", "cancelled", "expired", "incomplete"):
            return run.status
        assert time.monotonic() < deadline, f"run {run_id} still {run.status}"
        await asyncio.sleep(0.025)


async def _until_streaming(provider: ScriptedProvider, count: int) -> None:
    """Until `count` provider requests arrived and the model's text is flowing in each."""
    requests = await provider.wait_for_requests(count, within=60)
    deadline = time.monotonic() + 60
    while any(request.chunks_sent < 10 for request in requests[:count]):
        assert time.monotonic() < deadline, "the provider's answers never got going"
        await asyncio.sleep(0.02)


async def test_kill_9_mid_run_and_restart(
    provider: ScriptedProvider,
    tmp_path: Path,
    spec_violations: SpecViolations,
    engines: list[EngineProcess],
) -> None:
    provider.script(Text(SLOW, chunk_delay=0.02), Text(SLOW, chunk_delay=0.02))
    database = f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}"
    first = EngineProcess(database, tmp_path, provider.base_url).start()
    engines.append(first)

    # One run by a caller with a key (the server has none), one by the keyless default tenant.
    keyed = sdk_client(first.url, "sk-crash-caller", spec_violations)
    assistant = await keyed.beta.assistants.create(model="m")
    keyed_run = await keyed.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "keyed"}]}
    )
    async with httpx2.AsyncClient(base_url=first.url) as anonymous:
        made = await anonymous.post("/assistants", json={"model": "m"})
        made = await anonymous.post(
            "/threads/runs",
            json={
                "assistant_id": made.json()["id"],
                "thread": {"messages": [{"role": "user", "content": "anonymous"}]},
            },
        )
        open_run = made.json()
    await _until_streaming(provider, 2)
    first.kill()

    second = EngineProcess(database, tmp_path, provider.base_url).start()
    engines.append(second)
    keyed = sdk_client(second.url, "sk-crash-caller", spec_violations)
    assert await _terminal(keyed, keyed_run.thread_id, keyed_run.id) == "failed"
    failed = await keyed.beta.threads.runs.retrieve(keyed_run.id, thread_id=keyed_run.thread_id)
    assert failed.last_error is not None and failed.last_error.code == "server_error"
    assert "never stored" in failed.last_error.message
    kept = await keyed.beta.threads.messages.list(keyed_run.thread_id, order="asc")
    # The user's message is intact; the answer being streamed was never stored.
    assert [(m.role, m.status) for m in kept.data] == [("user", "completed")]

    async with httpx2.AsyncClient(base_url=second.url) as anonymous:
        deadline = time.monotonic() + 120
        while True:
            run = (
                await anonymous.get(f"/threads/{open_run['thread_id']}/runs/{open_run['id']}")
            ).json()
            if run["status"] == "completed" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.025)
        assert run["status"] == "completed"
        listed = (
            await anonymous.get(
                f"/threads/{open_run['thread_id']}/messages", params={"order": "asc"}
            )
        ).json()["data"]
        steps = (
            await anonymous.get(f"/threads/{open_run['thread_id']}/runs/{open_run['id']}/steps")
        ).json()["data"]
    # The user's message is intact and the interrupted answer was redone from the start.
    assert [(m["role"], m["status"]) for m in listed] == [
        ("user", "completed"),
        ("assistant", "completed"),
    ]
    assert listed[0]["content"][0]["text"]["value"] == "anonymous"
    assert listed[1]["content"][0]["text"]["value"] == "You said: anonymous"
    assert [(s["type"], s["status"]) for s in steps] == [("message_creation", "completed")]
    assert len(provider.requests) == 3
    assert provider.requests[2].body == next(
        r.body for r in provider.requests[:2] if r.messages[-1]["content"] == "anonymous"
    )


async def test_restart_with_a_server_key_never_lends_it_to_a_tenant(
    provider: ScriptedProvider,
    tmp_path: Path,
    spec_violations: SpecViolations,
    engines: list[EngineProcess],
) -> None:
    """Passthrough with a server key (issue 11): a tenant's run interrupted by kill -9 ends
    failed after the restart; the provider only ever saw the tenant's own key."""
    provider.script(Text(SLOW, chunk_delay=0.02))
    database = f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}"
    server_key = {"OPENAI_API_KEY": "sk-operator-own-key"}
    first = EngineProcess(database, tmp_path, provider.base_url, **server_key).start()
    engines.append(first)
    tenant = sdk_client(first.url, "sk-tenant-key", spec_violations)
    assistant = await tenant.beta.assistants.create(model="m")
    run = await tenant.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "mine"}]}
    )
    await _until_streaming(provider, 1)
    first.kill()

    second = EngineProcess(database, tmp_path, provider.base_url, **server_key).start()
    engines.append(second)
    tenant = sdk_client(second.url, "sk-tenant-key", spec_violations)
    assert await _terminal(tenant, run.thread_id, run.id) == "failed"
    failed = await tenant.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
    assert failed.last_error is not None and failed.last_error.code == "server_error"
    assert "never stored" in failed.last_error.message
    assert "OPENAI_API_KEY" in failed.last_error.message
    # Ended without a provider call: a call with the server's key would have come before.
    assert [r.api_key for r in provider.requests] == ["sk-tenant-key"]


async def test_two_processes_on_one_postgres(
    postgres_server: PostgresServer,
    provider: ScriptedProvider,
    tmp_path: Path,
    spec_violations: SpecViolations,
    engines: list[EngineProcess],
) -> None:
    database = await postgres_server.new_database_url()
    server_key = {"OPENAI_API_KEY": "sk-server-own-key"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = EngineProcess(database, tmp_path / "a", provider.base_url, **server_key).spawn()
    b = EngineProcess(database, tmp_path / "b", provider.base_url, **server_key).spawn()
    engines += [a, b]
    a.wait_ready(), b.wait_ready()
    via_a = sdk_client(a.url, "sk-two-procs", spec_violations)
    via_b = sdk_client(b.url, "sk-two-procs", spec_violations)
    assistant = await via_a.beta.assistants.create(model="m")

    # Runs created through either process execute exactly once each.
    runs = [
        await client.beta.threads.create_and_run(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": f"n{i}"}]}
        )
        for i, client in enumerate([via_a, via_b, via_a, via_b])
    ]
    for run in runs:
        assert await _terminal(via_b, run.thread_id, run.id) == "completed"
    await asyncio.sleep(0.5)  # time for a second execution, if there were one
    assert sorted(r.messages[-1]["content"] for r in provider.requests) == ["n0", "n1", "n2", "n3"]
    assert {r.api_key for r in provider.requests} == {"sk-two-procs"}

    # A run executing in A is read and cancelled through B; A stops its provider stream.
    provider.reset()
    provider.script(Text(SLOW, chunk_delay=0.02))
    slow = await via_a.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "slow"}]}
    )
    await _until_streaming(provider, 1)
    seen = await via_b.beta.threads.runs.retrieve(slow.id, thread_id=slow.thread_id)
    assert seen.status == "in_progress"
    cancelling = await via_b.beta.threads.runs.cancel(slow.id, thread_id=slow.thread_id)
    assert cancelling.status == "cancelling"
    assert await _terminal(via_b, slow.thread_id, slow.id) == "cancelled"
    # Stopped mid-answer (the 6 s answer was cut off, not waited out).
    assert provider.requests[0].disconnected and not provider.requests[0].finished

    # A dies mid-run: B takes the run over when A's lease runs out. The caller's key died
    # with A and B never lends the server's own key to another tenant (issue 11): the run
    # ends failed, saying why, and the provider never hears from B.
    provider.reset()
    provider.script(Text(SLOW, chunk_delay=0.02))
    orphan = await via_a.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "orphan"}]}
    )
    await _until_streaming(provider, 1)
    a.kill()
    assert await _terminal(via_b, orphan.thread_id, orphan.id) == "failed"
    failed = await via_b.beta.threads.runs.retrieve(orphan.id, thread_id=orphan.thread_id)
    assert failed.last_error is not None and failed.last_error.code == "server_error"
    assert "never stored" in failed.last_error.message
    # Ended without a provider call: one with the server's key would have come before.
    assert [r.api_key for r in provider.requests] == ["sk-two-procs"]

    # A run of the server key's own tenant (its caller sent the server's key) is taken over
    # with that key.
    (tmp_path / "c").mkdir()
    c = EngineProcess(database, tmp_path / "c", provider.base_url, **server_key).spawn()
    engines.append(c)
    c.wait_ready()
    own_c = sdk_client(c.url, "sk-server-own-key", spec_violations)
    own_b = sdk_client(b.url, "sk-server-own-key", spec_violations)
    own_assistant = await own_c.beta.assistants.create(model="m")
    provider.reset()
    provider.script(Text(SLOW, chunk_delay=0.02))
    orphan = await own_c.beta.threads.create_and_run(
        assistant_id=own_assistant.id,
        thread={"messages": [{"role": "user", "content": "orphan"}]},
    )
    await _until_streaming(provider, 1)
    c.kill()
    assert await _terminal(own_b, orphan.thread_id, orphan.id) == "completed"
    first, again = provider.requests
    assert (first.api_key, again.api_key) == ("sk-server-own-key", "sk-server-own-key")
    assert first.body == again.body
    answer = (await own_b.beta.threads.messages.list(orphan.thread_id)).data[0]
    assert answer.content[0].text.value == "You said: orphan"  # type: ignore[union-attr]
