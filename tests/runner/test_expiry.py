"""No run waits forever: past `expires_at` a run waiting for tool outputs, or one whose
provider never answers, ends `expired`."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import openai
import pytest

from openai_assistant_mcp.engine.app import create_app
from tests.runner.conftest import RUN_SETTINGS, sdk_client
from tests.support.engine import SpecViolations, engine_settings, serve_on_socket
from tests.support.scripted_provider import Call, Hang, ScriptedProvider, ToolCalls

TOOL = {"type": "function", "function": {"name": "wait", "parameters": {"type": "object"}}}


@pytest.fixture
async def short_lived(
    provider_server: ScriptedProvider,
    tmp_path_factory: pytest.TempPathFactory,
    spec_violations: SpecViolations,
) -> AsyncIterator[openai.AsyncOpenAI]:
    """An engine whose runs expire two seconds after they are created (whole seconds: the
    first may end sooner)."""
    directory = tmp_path_factory.mktemp("expiry")
    settings = engine_settings(
        f"sqlite+aiosqlite:///{directory / 'runs.db'}",
        directory,
        OPENAI_BASE_URL=provider_server.base_url,
        **{**RUN_SETTINGS, "RUN_EXPIRES_AFTER": 2},
    )
    with serve_on_socket(create_app(settings)) as url:
        client = sdk_client(url, "sk-expiry-" + secrets.token_hex(4), spec_violations)
        yield client
        await client.close()


async def test_waiting_and_hanging_runs_expire(
    short_lived: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(ToolCalls(Call("wait", {}, id="call_w")), Hang())
    assistant = await short_lived.beta.assistants.create(model="m", tools=[TOOL])
    waiting = await short_lived.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "a"}]}
    )
    assert waiting.status == "requires_action"
    hanging = await short_lived.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "b"}]}
    )
    await provider.wait_for_requests(2)
    for run in (waiting, hanging):
        for _ in range(300):
            run = await short_lived.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
            if run.status == "expired":
                break
            await asyncio.sleep(0.025)
        assert run.status == "expired" and run.expires_at is None
        steps = await short_lived.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)
        assert all(step.status == "expired" for step in steps.data)
    assert provider.requests[1].disconnected
