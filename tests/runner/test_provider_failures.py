"""Provider trouble: retries on 429 (Retry-After honoured), 5xx forever, a refused key,
cancelling a slow stream - and the run always ends in a state that says why."""

from __future__ import annotations

import asyncio

import openai

from tests.runner.sse_tap import TapTransport, parse_sse
from tests.support.scripted_provider import Error, Hang, ScriptedProvider, Text


async def _setup(oai: openai.AsyncOpenAI) -> tuple[str, str]:
    assistant = await oai.beta.assistants.create(model="gpt-test")
    thread = await oai.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    return thread.id, assistant.id


async def test_429_is_retried_after_the_time_it_asks(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(
        Error(429, "Rate limit reached.", code="rate_limit_exceeded", retry_after=0.4),
        Text("Got through."),
    )
    thread_id, assistant_id = await _setup(oai)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "completed"
    first, second = provider.requests
    assert second.received_at - first.received_at >= 0.4
    assert first.body == second.body and first.api_key == second.api_key == oai.api_key


async def test_server_errors_forever_fail_the_run(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.forever(Error(503, "Overloaded.", retry_after=0.05))
    thread_id, assistant_id = await _setup(oai)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "failed" and run.failed_at is not None
    assert run.last_error is not None and run.last_error.code == "server_error"
    assert "503" in run.last_error.message and "Overloaded." in run.last_error.message
    assert len(provider.requests) == 3  # the first try and PROVIDER_MAX_RETRIES=2 retries
    # The thread is usable again, and nothing was written for the failed run.
    messages = await oai.beta.threads.messages.list(thread_id)
    assert [m.role for m in messages.data] == ["user"]


async def test_rate_limit_forever_and_refused_key(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.forever(Error(429, "Slow down.", retry_after=0.05))
    thread_id, assistant_id = await _setup(oai)
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.last_error is not None and run.last_error.code == "rate_limit_exceeded"

    provider.reset()
    provider.required_key = "sk-the-only-good-key"
    run = await oai.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert run.status == "failed" and run.last_error is not None
    assert run.last_error.code == "invalid_api_key"
    assert oai.api_key not in run.last_error.message
    assert len(provider.requests) == 1  # a refused key is not retried


async def test_cancel_stops_a_slow_stream_promptly(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider, tap: TapTransport
) -> None:
    provider.script(Text("word " * 400, chunk_delay=0.02))
    thread_id, assistant_id = await _setup(oai)
    seen: list[str] = []
    async with oai.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id
    ) as stream:
        async for event in stream:
            seen.append(event.event)
            if event.event == "thread.message.delta" and seen.count(event.event) == 5:
                run_id = stream.current_run.id  # type: ignore[union-attr]
                cancelling = await oai.beta.threads.runs.cancel(run_id=run_id, thread_id=thread_id)
                assert cancelling.status in ("cancelling", "cancelled")
    raw = parse_sse(bytes(tap.streams[-1]))
    events = [event for event, _ in raw]
    assert events[-4:] == [
        "thread.message.incomplete",
        "thread.run.step.cancelled",
        "thread.run.cancelled",
        "done",
    ], raw[-3:]
    assert "thread.run.cancelling" in events
    run = await oai.beta.threads.runs.retrieve(run_id=run_id, thread_id=thread_id)
    assert run.status == "cancelled" and run.cancelled_at is not None
    (request,) = await provider.wait_for_requests(1)
    for _ in range(100):
        if request.disconnected:
            break
        await asyncio.sleep(0.01)
    assert request.disconnected and not request.finished
    messages = await oai.beta.threads.messages.list(thread_id, order="asc")
    partial = messages.data[-1]
    assert partial.status == "incomplete"
    assert partial.incomplete_details is not None
    assert partial.incomplete_details.reason == "run_cancelled"
    assert partial.content[0].text.value.startswith("word word")  # type: ignore[union-attr]


async def test_cancel_while_waiting_for_the_provider(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(Hang())
    thread_id, assistant_id = await _setup(oai)
    run = await oai.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
    await provider.wait_for_requests(1)
    await oai.beta.threads.runs.cancel(run_id=run.id, thread_id=thread_id)
    run = await oai.beta.threads.runs.poll(run.id, thread_id)
    assert run.status == "cancelled"
    for _ in range(100):
        if provider.requests[0].disconnected:
            break
        await asyncio.sleep(0.01)
    assert provider.requests[0].disconnected
    steps = await oai.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread_id)
    assert steps.data == []
