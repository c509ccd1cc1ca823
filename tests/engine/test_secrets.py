"""API keys never reach the database or the logs: only their keyed hash is stored."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import openai
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from openai_assistant_mcp.engine.settings import EngineSettings
from tests.support.engine import dump_tables

from .helpers import tenant_of

KEY = "sk-test-secret-never-stored-Zq81Lm"


async def test_the_key_is_stored_nowhere(
    client_for: Callable[[str], openai.AsyncOpenAI],
    engine_app: FastAPI,
    engine_settings: EngineSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(KEY)
    assistant = await client.beta.assistants.create(model="gpt-4o", name="keeper")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    await client.beta.threads.messages.create(thread.id, role="user", content="again")
    await client.beta.threads.update(thread.id, metadata={"a": "b"})
    with pytest.raises(openai.NotFoundError):
        await client.beta.assistants.retrieve("asst_missing")
    with pytest.raises(openai.BadRequestError):
        await client.beta.threads.messages.create(thread.id, role="user", content="")

    tenant = tenant_of(engine_app, KEY)
    assert re.fullmatch(r"[0-9a-f]{64}", tenant)
    assert tenant != hashlib.sha256(KEY.encode()).hexdigest()  # keyed, not a bare hash
    dump = json.dumps(await dump_tables(engine_app), default=str)
    assert assistant.id in dump and tenant in dump
    assert KEY not in dump
    assert KEY not in caplog.text

    url = make_url(engine_settings.resolved_database_url())
    if url.get_backend_name() == "sqlite":
        database = Path(str(url.database))
        files = [p for p in database.parent.glob(database.name + "*") if p.is_file()]
        assert database in files
        for path in files:  # the database, its WAL and shared-memory files
            assert KEY.encode() not in path.read_bytes(), path
