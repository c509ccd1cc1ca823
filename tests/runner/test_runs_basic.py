"""Runs that answer in text, through the official SDK: lifecycle, what the provider got."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.runner.conftest import sdk_client
from tests.support.engine import SpecViolations
from tests.support.scripted_provider import ScriptedProvider, Text


async def test_create_and_poll_plain_answer(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(Text("Hello from the model."))
    assistant = await oai.beta.assistants.create(
        model="gpt-test", instructions="Be brief.", temperature=0.5
    )
    thread = await oai.beta.threads.create(messages=[{"role": "user", "content": "Hi there"}])
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert run.status == "completed", run.last_error
    assert run.started_at and run.completed_at and run.expires_at is None
    assert run.usage is not None and run.usage.prompt_tokens == 4
    assert run.usage.completion_tokens == 4 and run.usage.total_tokens == 8

    listed = await oai.beta.threads.messages.list(thread.id, order="asc")
    assert [m.role for m in listed.data] == ["user", "assistant"]
    answer = listed.data[1]
    assert answer.content[0].text.value == "Hello from the model."
    assert (answer.assistant_id, answer.run_id, answer.status) == (
        assistant.id,
        run.id,
        "completed",
    )

    steps = await oai.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id)
    assert [s.type for s in steps.data] == ["message_creation"]
    assert steps.data[0].step_details.message_creation.message_id == answer.id
    assert steps.data[0].status == "completed"

    (sent,) = provider.requests
    assert sent.api_key == oai.api_key
    assert sent.body["model"] == "gpt-test"
    assert sent.body["temperature"] == 0.5
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
    ]
    assert "tools" not in sent.body


async def test_deleting_the_thread_stops_its_run(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(Text("word " * 400, chunk_delay=0.02))
    assistant = await oai.beta.assistants.create(model="m")
    run = await oai.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "go"}]}
    )
    (request,) = await provider.wait_for_requests(1)
    deleted = await oai.beta.threads.delete(run.thread_id)
    assert deleted.deleted
    for _ in range(100):  # the executor notices within its poll interval and hangs up
        if request.disconnected:
            break
        await asyncio.sleep(0.02)
    assert request.disconnected and not request.finished
    with pytest.raises(openai.NotFoundError):
        await oai.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)


async def test_other_tenants_runs_answer_as_missing(
    oai: openai.AsyncOpenAI, runs_engine_url: str, spec_violations: SpecViolations
) -> None:
    assistant = await oai.beta.assistants.create(model="m")
    run = await oai.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "mine"}]}
    )
    other = sdk_client(runs_engine_url, "sk-someone-else", spec_violations)
    try:
        with pytest.raises(openai.NotFoundError):
            await other.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
        with pytest.raises(openai.NotFoundError):
            await other.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
        with pytest.raises(openai.NotFoundError):
            await other.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)
    finally:
        await other.close()
