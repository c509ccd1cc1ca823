"""The shared fixtures themselves work: both backends, the spec check, the real socket."""

from __future__ import annotations

import httpx2
import openai
import pytest

from tests.support.engine import SpecViolations


async def test_client_creates_and_retrieves_an_assistant(client: openai.AsyncOpenAI) -> None:
    created = await client.beta.assistants.create(model="gpt-4o", name="fixture check")
    fetched = await client.beta.assistants.retrieve(created.id)
    assert fetched.id == created.id and fetched.name == "fixture check"


async def test_spec_check_reports_a_bad_body(spec_violations: SpecViolations) -> None:
    request = httpx2.Request("GET", "http://engine/v1/threads/thread_x")
    response = httpx2.Response(
        200, json={"id": "thread_x", "object": "thread", "created_at": "yesterday"}, request=request
    )
    await spec_violations.hook(response)
    found = spec_violations.take()
    assert any("created_at" in problem for problem in found)
    assert any("tool_resources" in problem for problem in found)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_live_server_answers_over_a_socket(live_engine_url: str) -> None:
    async with openai.AsyncOpenAI(api_key="sk-test-live", base_url=live_engine_url) as live:
        created = await live.beta.assistants.create(model="gpt-4o")
        assert (await live.beta.assistants.retrieve(created.id)).id == created.id
