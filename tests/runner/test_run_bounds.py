"""A provider turn's output is bounded: a provider that streams forever does not grow the
answer until the run expires; the run ends `incomplete` with what came so far."""

from __future__ import annotations

import openai

from tests.runner.conftest import RUN_SETTINGS
from tests.support.scripted_provider import Endless, ScriptedProvider


async def test_an_endless_provider_stream_ends_the_run_incomplete(
    oai: openai.AsyncOpenAI, provider: ScriptedProvider
) -> None:
    provider.script(Endless())
    assistant = await oai.beta.assistants.create(model="m")
    run = await oai.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "go"}]}
    )
    assert run.status == "incomplete"
    assert run.incomplete_details is not None
    assert run.incomplete_details.reason == "max_completion_tokens"
    answer = (await oai.beta.threads.messages.list(run.thread_id)).data[0]
    assert answer.status == "incomplete"
    assert (
        answer.incomplete_details is not None and answer.incomplete_details.reason == "max_tokens"
    )
    text = answer.content[0].text.value  # type: ignore[union-attr]
    cap = RUN_SETTINGS["RUN_MAX_OUTPUT_CHARS"]
    assert cap < len(text) <= cap + len(Endless().word)
    assert text.startswith("endless endless")
    await provider.wait_for_requests(1)
    assert provider.requests[0].disconnected  # the engine closed the stream
