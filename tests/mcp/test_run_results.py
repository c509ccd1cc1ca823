"""The run tools' results (tools/run_results.py) are built from what the run's stream already
told: a followed run's messages and steps are not read again (issue 26, item 6). Counted as the
API requests one tool call makes, through a real MCP client session with the server and the
embedded engine in-process, against the scripted model provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from openai import AsyncOpenAI

from openai_assistant_mcp.engine.sandbox import SandboxSettings
from openai_assistant_mcp.mcp.app import ToolServer
from openai_assistant_mcp.mcp.client import call_api_key
from openai_assistant_mcp.mcp.tools.common import as_dict
from openai_assistant_mcp.settings import Settings
from tests.mcp.workflow import WEATHER_TOOL, call
from tests.support.sandbox import sandbox_settings
from tests.support.scripted_provider import (
    Call,
    EchoToolResult,
    RunCode,
    ScriptedProvider,
    Text,
    ToolCalls,
)

__all__ = ["sandbox_settings"]  # the fixture: bwrap present (or skip) and the venv built


KEY = "sk-results"  # the tenant the tools run as; the test's own reads use it too


class Served:
    """The MCP client, the server's API client, and the API requests it sends."""

    def __init__(self, client: Client, api: AsyncOpenAI) -> None:
        self.client, self.api = client, api
        self.requests: list[str] = []

    async def counted(
        self, tool: str, arguments: dict[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        """The tool's structured result and the API requests the call made."""
        self.requests.clear()
        result = await call(self.client, tool, arguments)
        return result, list(self.requests)


@asynccontextmanager
async def served(provider: ScriptedProvider, data_dir: Path) -> AsyncIterator[Served]:
    settings = Settings(
        data_dir=data_dir, provider_base_url=provider.base_url, provider_api_key=KEY
    )
    tools = ToolServer(settings)
    async with anyio.create_task_group() as group:
        group.start_soon(tools.backend.run)
        tools.backend.want()
        with anyio.fail_after(120):
            api = await tools.backend.api()
        http: httpx2.AsyncClient = api._client  # the server's one HTTP client (client.py)
        async with Client(tools.lowlevel_server()) as client:
            state = Served(client, api)

            async def note(request: httpx2.Request) -> None:
                state.requests.append(f"{request.method} {request.url.path}")

            http.event_hooks["request"].append(note)
            token = call_api_key.set(KEY)
            try:
                yield state
            finally:
                call_api_key.reset(token)
        tools.backend.close()


async def test_a_followed_run_is_answered_from_its_stream(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(Text("Paris is the capital of France."))
    async with served(model_provider, tmp_path) as server:
        assistant = await call(server.client, "create_assistant", {"model": "gpt-test"})
        thread = await call(server.client, "create_thread", {})
        await call(server.client, "create_message", {"thread_id": thread["id"], "content": "Hi"})
        result, requests = await server.counted(
            "create_run", {"thread_id": thread["id"], "assistant_id": assistant["id"]}
        )
        # One request: the run's stream. Its messages are not listed again.
        assert requests == [f"POST /v1/threads/{thread['id']}/runs"], requests
        run = result["run"]
        assert run["status"] == "completed"
        stored = await server.api.beta.threads.messages.list(
            thread["id"], run_id=run["id"], order="asc"
        )
        assert result["messages"] == [as_dict(m) for m in stored.data]
        assert result["messages"][-1]["content"][0]["text"]["value"] == (
            "Paris is the capital of France."
        )


async def test_code_interpreter_steps_come_from_the_stream(
    sandbox_settings: SandboxSettings, model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(RunCode(), EchoToolResult("Done:"))
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nprint('drawn')"
    async with served(model_provider, tmp_path) as server:
        assistant = await call(
            server.client,
            "create_assistant",
            {"model": "gpt-test", "tools": [{"type": "code_interpreter"}]},
        )
        message = {"role": "user", "content": f"Draw:\n```python\n{code}\n```"}
        result, requests = await server.counted(
            "create_thread_and_run",
            {"assistant_id": assistant["id"], "thread": {"messages": [message]}},
        )
        run = result["run"]
        assert run["status"] == "completed", run
        # The stream, then the chart's file and its bytes: no list of messages or steps.
        # The stream, then each chart's file and bytes: no list of messages or steps.
        assert requests[0] == "POST /v1/threads/runs", requests
        assert not [r for r in requests if r.endswith(("/messages", "/steps"))], requests
        images = [
            o
            for c in result["code_interpreter"]["calls"]
            for o in c["code_interpreter"]["outputs"]
            if o["type"] == "image"
        ]
        assert len(requests) == 1 + 2 * len(images), requests
        steps = await server.api.beta.threads.runs.steps.list(
            run["id"], thread_id=run["thread_id"], order="asc"
        )
        stored = [
            as_dict(tool_call)
            for step in steps.data
            if step.step_details.type == "tool_calls"
            for tool_call in step.step_details.tool_calls
            if tool_call.type == "code_interpreter"
        ]
        assert result["code_interpreter"]["calls"] == stored
        assert stored and stored[0]["code_interpreter"]["input"] == code + "\n"


async def test_a_run_resumed_by_tool_outputs_still_lists_its_messages(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    """submit_tool_outputs streams the run from the middle: messages made before it are not in
    that stream, so they are read."""
    model_provider.script(
        ToolCalls(Call("get_weather", {"city": "Oslo"}, id="call_1")), Text("Cold in Oslo.")
    )
    async with served(model_provider, tmp_path) as server:
        assistant = await call(
            server.client, "create_assistant", {"model": "gpt-test", "tools": [WEATHER_TOOL]}
        )
        thread = await call(server.client, "create_thread", {})
        await call(server.client, "create_message", {"thread_id": thread["id"], "content": "?"})
        started, requests = await server.counted(
            "create_run", {"thread_id": thread["id"], "assistant_id": assistant["id"]}
        )
        assert started["run"]["status"] == "requires_action"
        assert len(requests) == 1, requests
        finished, requests = await server.counted(
            "submit_tool_outputs",
            {
                "thread_id": thread["id"],
                "run_id": started["run"]["id"],
                "tool_outputs": [{"tool_call_id": "call_1", "output": "-5 C"}],
            },
        )
        assert [r.rsplit("/", 1)[-1] for r in requests] == ["submit_tool_outputs", "messages"]
        assert finished["messages"][-1]["content"][0]["text"]["value"] == "Cold in Oslo."
