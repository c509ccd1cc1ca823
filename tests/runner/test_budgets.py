"""Budgets on any provider (issue 23): a provider that ignores `max_completion_tokens` (as
llama-cpp-python does) is stopped by the engine counting the streamed tokens, and later requests
send `max_tokens`; a provider that reports no usage gets the run's usage counted locally."""

from __future__ import annotations

import openai

from openai_assistant_mcp.engine.vectors.text import count_tokens
from tests.runner.conftest import Engine
from tests.support.scripted_provider import ScriptedProvider, Text

LONG = " ".join(f"word{i}" for i in range(2000))  # ~4,000 tokens


async def _run(client: openai.AsyncOpenAI, **options: object) -> openai.types.beta.threads.Run:
    assistant = await client.beta.assistants.create(model="qwen")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Talk."}])
    return await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        **options,  # type: ignore[arg-type]
    )


async def test_a_provider_that_ignores_the_budget_is_stopped_at_it(
    engine: Engine, provider: ScriptedProvider
) -> None:
    client = await engine()
    provider.script(
        Text(LONG, ignores_max_completion_tokens=True, no_usage=True),
        Text(LONG, ignores_max_completion_tokens=True, no_usage=True),
    )
    run = await _run(client, max_completion_tokens=256)
    assert run.status == "incomplete"
    assert run.incomplete_details is not None
    assert run.incomplete_details.reason == "max_completion_tokens"
    assert run.usage is not None and 256 <= run.usage.completion_tokens <= 330
    message = (await client.beta.threads.messages.list(run.thread_id)).data[0]
    assert message.status == "incomplete"
    assert count_tokens(message.content[0].text.value) <= 330  # type: ignore[union-attr]
    assert provider.requests[0].body["max_completion_tokens"] == 256

    # Learned: the budget now goes out as max_tokens, which this server honours.
    run = await _run(client, max_completion_tokens=256)
    assert run.status == "incomplete"
    sent = provider.requests[1].body
    assert sent["max_tokens"] == 256 and "max_completion_tokens" not in sent
    assert provider.requests[1].finished  # the provider stopped by itself this time


async def test_usage_is_counted_when_the_provider_reports_none(
    engine: Engine, provider: ScriptedProvider
) -> None:
    client = await engine()
    provider.script(Text("It is sunny in Paris today.", no_usage=True))
    run = await _run(client)
    assert run.status == "completed"
    assert run.usage is not None
    assert run.usage.completion_tokens == count_tokens("It is sunny in Paris today.")
    assert run.usage.prompt_tokens >= count_tokens("Talk.")
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens


async def test_usage_the_provider_reports_is_kept(
    engine: Engine, provider: ScriptedProvider
) -> None:
    client = await engine()
    provider.script(Text("Sunny.", usage={"prompt_tokens": 7, "completion_tokens": 3}))
    run = await _run(client)
    assert run.usage is not None
    assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (7, 3)
