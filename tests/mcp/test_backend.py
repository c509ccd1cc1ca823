"""The backend's lifetime (backend.py): opened once wanted, held until closed, a failure to
open told to every call, through a real MCP client session with the server in-process."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from mcp import Client

from openai_assistant_mcp.mcp.app import ToolServer
from openai_assistant_mcp.mcp.backend import Backend, BackendUnavailable, Phase
from openai_assistant_mcp.settings import Settings

REMOTE = "http://127.0.0.1:9/v1"  # never connected to: the calls below do not reach it


async def test_a_backend_closed_before_it_is_wanted_never_opens() -> None:
    backend = Backend(Settings(assistants_api_url=REMOTE))
    async with anyio.create_task_group() as group:
        group.start_soon(backend.run)
        await anyio.lowlevel.checkpoint()
        backend.close()
    assert backend.phase is Phase.CLOSED
    assert not await backend.ready()
    with pytest.raises(BackendUnavailable, match="shutting down"):
        await backend.api()


async def test_a_wanted_backend_opens_serves_and_closes() -> None:
    backend = Backend(Settings(assistants_api_url=REMOTE))
    async with anyio.create_task_group() as group:
        group.start_soon(backend.run)
        assert backend.phase is Phase.IDLE
        backend.want()
        with anyio.fail_after(120):
            assert await backend.ready()
        api = await backend.api()
        assert str(api.base_url).rstrip("/") == REMOTE
        backend.close()
    assert backend.phase is Phase.CLOSED
    with pytest.raises(BackendUnavailable, match="shutting down"):
        await backend.api()


async def test_a_backend_that_fails_to_start_tells_every_call(tmp_path: Path) -> None:
    settings = Settings(database_url="nosuchdb://x", data_dir=tmp_path)
    tools = ToolServer(settings)
    async with anyio.create_task_group() as group:
        group.start_soon(tools.backend.run)
        async with Client(tools.lowlevel_server()) as client:
            with anyio.fail_after(60):
                first = await client.call_tool("list_assistants", {})
                second = await client.call_tool("get_thread", {"thread_id": "thread_x"})
        tools.backend.close()
    assert tools.backend.phase is Phase.FAILED
    for result in (first, second):
        assert result.is_error
        (text,) = [block.text for block in result.content]
        # One line naming the setting, the dialect and a valid URL (engine/startup.py).
        assert text.startswith("DATABASE_URL names the dialect 'nosuchdb'"), text
        assert "postgresql+asyncpg://" in text
