"""Tool outputs that arrive after a run's `expires_at` are refused, even before the executor's
next sweep has marked the run `expired`."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import openai
import pytest

from openai_assistant_mcp.engine.app import create_app
from tests.runner.conftest import RUN_SETTINGS, sdk_client
from tests.support.engine import SpecViolations, engine_settings, serve_on_socket
from tests.support.scripted_provider import Call, ScriptedProvider, ToolCalls

TOOL = {"type": "function", "function": {"name": "wait", "parameters": {"type": "object"}}}


@pytest.fixture
async def slow_sweeper(
    provider_server: ScriptedProvider,
    tmp_path_factory: pytest.TempPathFactory,
    spec_violations: SpecViolations,
) -> AsyncIterator[openai.AsyncOpenAI]:
    """Runs expire after ten seconds (room for a slow machine to reach requires_action first);
    the executor sweeps only every two minutes, so the submit, not the sweep, meets the expiry."""
    directory = tmp_path_factory.mktemp("expired-submit")
    settings = engine_settings(
        f"sqlite+aiosqlite:///{directory / 'runs.db'}",
        directory,
        OPENAI_BASE_URL=provider_server.base_url,
        **{
            **RUN_SETTINGS,
            "RUN_EXPIRES_AFTER": 10,
            "RUN_POLL_INTERVAL": 120.0,
            "RUN_LEASE_SECONDS": 300.0,
        },
    )
    with serve_on_socket(create_app(settings)) as url:
        client = sdk_client(url, "sk-late-" + secrets.token_hex(4), spec_violations)
        yield client
        await client.close()


async def test_tool_outputs_after_expires_at_are_refused(
    slow_sweeper: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(ToolCalls(Call("wait", {}, id="call_late")))
    assistant = await slow_sweeper.beta.assistants.create(model="m", tools=[TOOL])
    run = await slow_sweeper.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "a"}]}
    )
    assert run.status == "requires_action" and run.expires_at is not None
    await asyncio.sleep(max(0.0, run.expires_at - time.time()) + 1.1)
    with pytest.raises(openai.BadRequestError) as late:
        await slow_sweeper.beta.threads.runs.submit_tool_outputs(
            run_id=run.id,
            thread_id=run.thread_id,
            tool_outputs=[{"tool_call_id": "call_late", "output": "1"}],
        )
    assert late.value.body["message"] == (  # type: ignore[index]
        'Runs in status "expired" do not accept tool outputs.'
    )
    run = await slow_sweeper.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
    assert run.status == "expired" and run.expires_at is None
    steps = await slow_sweeper.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)
    assert [step.status for step in steps.data] == ["expired"]
    assert len(provider.requests) == 1
