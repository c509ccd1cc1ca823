"""Runs as MCP tasks (mcp/tasks.py, the tasks extension of protocol 2026-07-28) through the
official SDK client with a client extension on the SDK's own surface (tests/support/mcp_tasks.py):
in-process against the embedded engine, and over streamable HTTP with real server processes (a
restart mid-task; two processes on one PostgreSQL), the model being the scripted provider."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from openai_assistant_mcp.mcp.app import ToolServer
from openai_assistant_mcp.mcp.tasks import EXTENSION_ID, outputs_key
from openai_assistant_mcp.settings import Settings
from tests.mcp.fixtures import StartServer
from tests.mcp.servers import COMMAND, free_port, running_server, server_env
from tests.mcp.workflow import WEATHER_TOOL, call
from tests.support.mcp_tasks import (
    RunTasksClient,
    cancel_task,
    get_task,
    start_task,
    update_task,
    wait_for_status,
)
from tests.support.scripted_provider import (
    Call,
    EchoToolResult,
    ScriptedProvider,
    Text,
    ToolCalls,
)

KEY = "sk-tasks"


@asynccontextmanager
async def serving(
    provider: ScriptedProvider, data_dir: Path, **settings: Any
) -> AsyncIterator[ToolServer]:
    """The server in-process with its backend running."""
    tools = ToolServer(
        Settings(
            data_dir=data_dir, provider_base_url=provider.base_url, provider_api_key=KEY, **settings
        )
    )
    async with anyio.create_task_group() as group:
        group.start_soon(tools.backend.run)
        tools.backend.want()
        with anyio.fail_after(120):
            assert await tools.backend.ready()
        yield tools
        tools.backend.close()


async def new_thread(client: Client, *, tools: list[Any] | None = None) -> tuple[str, str]:
    """An assistant (with the weather function if asked) and a thread with one question."""
    assistant = await call(
        client, "create_assistant", {"model": "scripted-model", "tools": tools or []}
    )
    thread = await call(
        client, "create_thread", {"messages": [{"role": "user", "content": "Weather in Paris?"}]}
    )
    return assistant["id"], thread["id"]


async def test_a_run_becomes_a_task_polled_to_the_tools_own_result(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(Text("It is sunny."))
    tasks = RunTasksClient()
    async with (
        serving(model_provider, tmp_path) as server,
        Client(server.lowlevel_server(), extensions=[tasks]) as client,
    ):
        assert client.protocol_version == "2026-07-28"
        assert EXTENSION_ID in (client.server_capabilities.extensions or {})
        assistant_id, thread_id = await new_thread(client)
        created = await start_task(
            client, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
        )
        assert created.result_type == "task"
        assert created.task_id.startswith(f"{thread_id}/run_")
        assert created.status == "working"
        run_id = created.task_id.split("/")[1]

        done = await wait_for_status(client.session, created.task_id, "completed")
        assert done.result is not None
        result = types.CallToolResult.model_validate(done.result)
        assert result.structured_content is not None
        assert result.structured_content["run"]["status"] == "completed"
        assert "It is sunny." in result.content[0].text  # type: ignore[union-attr]
        # The task's result is the tool's: what get_run (and a waiting create_run) answers.
        direct = await client.call_tool("get_run", {"thread_id": thread_id, "run_id": run_id})
        assert result.model_dump(exclude={"meta"}) == direct.model_dump(exclude={"meta"})

        # The claim resolver of the client extension: call_tool polls the task to its end.
        model_provider.script(Text("Still sunny."))
        resolved = await client.call_tool(
            "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
        )
        assert not resolved.is_error
        assert "Still sunny." in resolved.content[0].text  # type: ignore[union-attr]
        assert tasks.seen[-1].status == "completed"


async def test_requires_action_is_input_required_and_the_answers_finish_the_run(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(
        ToolCalls(Call("get_weather", {"city": "Paris"}, id="call_w1")),
        EchoToolResult("The tool said:"),
    )
    async with (
        serving(model_provider, tmp_path) as server,
        Client(server.lowlevel_server(), extensions=[RunTasksClient()]) as client,
    ):
        assistant_id, thread_id = await new_thread(client, tools=[WEATHER_TOOL])
        created = await start_task(
            client, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
        )
        task = await wait_for_status(client.session, created.task_id, "input_required")
        assert task.input_requests is not None
        [(key, request)] = task.input_requests.items()
        assert request["method"] == "elicitation/create"
        params = request["params"]
        assert params["mode"] == "form"
        assert params["requestedSchema"]["required"] == ["call_w1"]
        assert 'get_weather({"city": "Paris"})' in params["message"]
        [tool_call] = params["_meta"]["openai-assistant-mcp/tool_calls"]
        assert tool_call["id"] == "call_w1"
        assert json.loads(tool_call["function"]["arguments"]) == {"city": "Paris"}
        assert key == outputs_key([tool_call])

        # A key that is not outstanding is ignored; a missing output is refused by name.
        await update_task(client.session, created.task_id, "not-a-key", {"call_w1": "x"})
        assert (await get_task(client.session, created.task_id)).status == "input_required"
        with pytest.raises(MCPError, match=r"no output .* for tool call call_w1"):
            await update_task(client.session, created.task_id, key, {"other": "x"})

        await update_task(client.session, created.task_id, key, {"call_w1": "24C and sunny"})
        done = await wait_for_status(client.session, created.task_id, "completed")
        assert done.result is not None
        text = done.result["content"][0]["text"]
        assert "The tool said: 24C and sunny" in text

        # The same flow through the extension's resolver, answering with a function.
        model_provider.script(
            ToolCalls(Call("get_weather", {"city": "Oslo"}, id="call_w2")),
            EchoToolResult("Answer:"),
        )
        asked: list[list[dict[str, Any]]] = []

        async def answer(calls: list[dict[str, Any]]) -> dict[str, str]:
            asked.append(calls)
            return {c["id"]: "rain" for c in calls}

        async with Client(
            server.lowlevel_server(), extensions=[RunTasksClient(answer)]
        ) as answering:
            result = await answering.call_tool(
                "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
            )
        assert [[c["id"] for c in calls] for calls in asked] == [["call_w2"]]
        assert "Answer: rain" in result.content[0].text  # type: ignore[union-attr]


async def test_a_cancelled_task_cancels_its_run(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(ToolCalls(Call("get_weather", {"city": "Paris"}, id="call_c1")))
    async with (
        serving(model_provider, tmp_path) as server,
        Client(server.lowlevel_server(), extensions=[RunTasksClient()]) as client,
    ):
        assistant_id, thread_id = await new_thread(client, tools=[WEATHER_TOOL])
        created = await start_task(
            client, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
        )
        await wait_for_status(client.session, created.task_id, "input_required")
        await cancel_task(client.session, created.task_id)
        task = await wait_for_status(client.session, created.task_id, "cancelled")
        assert task.result is None and task.input_requests is None
        run_id = created.task_id.split("/")[1]
        run = await call(client, "get_run", {"thread_id": thread_id, "run_id": run_id})
        assert run["run"]["status"] == "cancelled"
        # Cancelling an ended task is acknowledged and changes nothing.
        await cancel_task(client.session, created.task_id)


async def test_submit_tool_outputs_and_create_thread_and_run_are_tasks_too(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(
        ToolCalls(Call("get_weather", {"city": "Rome"}, id="call_s1")),
        EchoToolResult("Got:"),
    )
    async with (
        serving(model_provider, tmp_path) as server,
        Client(server.lowlevel_server(), extensions=[RunTasksClient()]) as client,
    ):
        assistant = await call(
            client, "create_assistant", {"model": "scripted-model", "tools": [WEATHER_TOOL]}
        )
        created = await start_task(
            client,
            "create_thread_and_run",
            {
                "assistant_id": assistant["id"],
                "thread": {"messages": [{"role": "user", "content": "Rome?"}]},
            },
        )
        await wait_for_status(client.session, created.task_id, "input_required")
        thread_id, run_id = created.task_id.split("/")
        submitted = await start_task(
            client,
            "submit_tool_outputs",
            {
                "thread_id": thread_id,
                "run_id": run_id,
                "tool_outputs": [{"tool_call_id": "call_s1", "output": "warm"}],
            },
        )
        assert submitted.task_id == created.task_id  # the same run, so the same task
        done = await wait_for_status(client.session, created.task_id, "completed")
        assert done.result is not None
        assert "Got: warm" in done.result["content"][0]["text"]


async def test_clients_that_do_not_opt_in_get_the_waiting_tools_unchanged(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(Text("Plain answer."), Text("Legacy answer."))
    async with serving(model_provider, tmp_path) as server:
        async with Client(server.lowlevel_server()) as client:
            assistant_id, thread_id = await new_thread(client)
            result = await call(
                client, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
            )
            assert result["run"]["status"] == "completed"
            assert result["messages"][-1]["content"][0]["text"]["value"] == "Plain answer."
            # tasks/* are refused to a client that did not declare the extension.
            with pytest.raises(MCPError) as refused:
                await get_task(client.session, f"{thread_id}/{result['run']['id']}")
            assert refused.value.error.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY
        # On the handshake protocols the extension is not offered: the tool waits as before.
        async with Client(
            server.lowlevel_server(), mode="legacy", extensions=[RunTasksClient()]
        ) as legacy:
            assert legacy.protocol_version != "2026-07-28"
            result = await call(
                legacy, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
            )
            assert result["messages"][-1]["content"][0]["text"]["value"] == "Legacy answer."


async def test_unknown_tasks_and_refused_calls_are_one_line_errors(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    async with (
        serving(model_provider, tmp_path) as server,
        Client(server.lowlevel_server(), extensions=[RunTasksClient()]) as client,
    ):
        for task_id in ("nonsense", "thread_abc/run_abc"):
            with pytest.raises(MCPError) as missing:
                await get_task(client.session, task_id)
            assert missing.value.error.code == types.INVALID_PARAMS
            assert missing.value.error.message == "Failed to retrieve task: Task not found"
        # A call refused before any run exists is the tool's own error, not a task.
        refused = await client.session.call_tool(
            "create_run",
            {"thread_id": "thread_nope", "assistant_id": "asst_nope"},
            allow_claimed=True,
        )
        assert isinstance(refused, types.CallToolResult) and refused.is_error


# --- real server processes ------------------------------------------------------------------------


def http_env(data_dir: Path, provider: ScriptedProvider, **settings: str) -> dict[str, str]:
    return server_env(
        data_dir,
        provider.base_url,
        TRANSPORT="streamable-http",
        HOST="127.0.0.1",
        PORT=str(free_port()),
        OPENAI_API_KEY=KEY,
        **settings,
    )


async def _over_http(
    env: dict[str, str], log: Path, body: Callable[[Client], Awaitable[Any]]
) -> Any:
    with running_server([], env, log) as server:
        async with Client(server.url("/mcp"), extensions=[RunTasksClient()]) as client:
            assert client.protocol_version == "2026-07-28"
            return await body(client)


async def test_a_task_survives_a_server_restart(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(
        ToolCalls(Call("get_weather", {"city": "Paris"}, id="call_r1")),
        EchoToolResult("After restart:"),
    )
    env = http_env(tmp_path / "data", model_provider)

    async def start(client: Client) -> str:
        assistant_id, thread_id = await new_thread(client, tools=[WEATHER_TOOL])
        created = await start_task(
            client, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
        )
        await wait_for_status(client.session, created.task_id, "input_required")
        return created.task_id

    task_id = await _over_http(env, tmp_path / "first.log", start)

    async def finish(client: Client) -> types.CallToolResult:
        task = await get_task(client.session, task_id)
        assert task.status == "input_required" and task.input_requests
        [key] = task.input_requests
        await update_task(client.session, task_id, key, {"call_r1": "cloudy"})
        done = await wait_for_status(client.session, task_id, "completed")
        return types.CallToolResult.model_validate(done.result)

    env["PORT"] = str(free_port())  # the same data dir, a new process
    result = await _over_http(env, tmp_path / "second.log", finish)
    assert "After restart: cloudy" in result.content[0].text  # type: ignore[union-attr]


async def test_two_server_processes_on_one_postgresql_serve_the_same_task(
    model_provider: ScriptedProvider,
    tmp_path: Path,
    new_database_url: Callable[[str], Awaitable[str]],
) -> None:
    url = await new_database_url("postgres")
    model_provider.script(
        ToolCalls(Call("get_weather", {"city": "Paris"}, id="call_p1")),
        EchoToolResult("Other process:"),
    )
    first_env = http_env(tmp_path / "a", model_provider, DATABASE_URL=url)
    second_env = http_env(tmp_path / "b", model_provider, DATABASE_URL=url)
    for env in (first_env, second_env):  # one tenant hash on both: the same secret
        env["ENGINE_SECRET"] = "tasks-test-secret-" + "x" * 16
    with (
        running_server([], first_env, tmp_path / "a.log") as first,
        running_server([], second_env, tmp_path / "b.log") as second,
    ):
        async with (
            Client(first.url("/mcp"), extensions=[RunTasksClient()]) as a,
            Client(second.url("/mcp"), extensions=[RunTasksClient()]) as b,
        ):
            assistant_id, thread_id = await new_thread(a, tools=[WEATHER_TOOL])
            created = await start_task(
                a, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
            )
            task = await wait_for_status(b.session, created.task_id, "input_required")
            assert task.input_requests
            [key] = task.input_requests
            await update_task(b.session, created.task_id, key, {"call_p1": "foggy"})
            done = await wait_for_status(a.session, created.task_id, "completed")
            assert done.result is not None
            assert "Other process: foggy" in done.result["content"][0]["text"]


async def _input_required_round(client: Client, call_id: str, output: str) -> str:
    """A run that asks for a function output, answered through the task; the final text."""
    assistant_id, thread_id = await new_thread(client, tools=[WEATHER_TOOL])
    created = await start_task(
        client, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
    )
    task = await wait_for_status(client.session, created.task_id, "input_required")
    assert task.input_requests
    [key] = task.input_requests
    await update_task(client.session, created.task_id, key, {call_id: output})
    done = await wait_for_status(client.session, created.task_id, "completed")
    assert done.result is not None
    return str(done.result["content"][0]["text"])


async def test_tasks_over_stdio_in_remote_mode(
    tmp_path: Path, start_server: StartServer, model_provider: ScriptedProvider
) -> None:
    """Over stdio, with every call proxied to a separate `openai-assistant-mcp api`
    (ASSISTANTS_API_URL): the same tasks, the run living in the remote API's store."""
    api = start_server("api", "api")
    model_provider.script(
        ToolCalls(Call("get_weather", {"city": "Lima"}, id="call_x1")),
        EchoToolResult("Remote:"),
    )
    env = server_env(tmp_path / "unused", ASSISTANTS_API_URL=api.url("/v1"), OPENAI_API_KEY=KEY)
    params = StdioServerParameters(command=COMMAND, args=[], env=env)
    async with Client(params, extensions=[RunTasksClient()]) as client:
        assert client.protocol_version == "2026-07-28"
        text = await _input_required_round(client, "call_x1", "dry")
    assert "Remote: dry" in text
    assert not (tmp_path / "unused").exists()


def tasks_client(url: str, key: str) -> Client:
    http = httpx2.AsyncClient(headers={"X-OpenAI-API-Key": key}, timeout=httpx2.Timeout(120.0))
    return Client(streamable_http_client(url, http_client=http), extensions=[RunTasksClient()])


async def test_a_task_is_its_callers_alone_in_multi_user_mode(
    start_server: StartServer, model_provider: ScriptedProvider
) -> None:
    server = start_server(
        "multi-user-http", TRANSPORT="streamable-http", MCP_CREDENTIALS_PASSTHROUGH="true"
    )
    alice, bob = (f"sk-{name}-{secrets.token_hex(8)}" for name in ("alice", "bob"))
    model_provider.script(ToolCalls(Call("get_weather", {"city": "Bern"}, id="call_m1")))
    async with tasks_client(server.url("/mcp"), alice) as client:
        assistant_id, thread_id = await new_thread(client, tools=[WEATHER_TOOL])
        created = await start_task(
            client, "create_run", {"thread_id": thread_id, "assistant_id": assistant_id}
        )
        task = await wait_for_status(client.session, created.task_id, "input_required")
        assert task.input_requests
        [key] = task.input_requests
    async with tasks_client(server.url("/mcp"), bob) as other:
        for attempt in (
            get_task(other.session, created.task_id),
            update_task(other.session, created.task_id, key, {"call_m1": "x"}),
            cancel_task(other.session, created.task_id),
        ):
            with pytest.raises(MCPError) as refused:
                await attempt
            assert refused.value.error.message == "Failed to retrieve task: Task not found"
    async with tasks_client(server.url("/mcp"), alice) as client:
        assert (await get_task(client.session, created.task_id)).status == "input_required"
        await cancel_task(client.session, created.task_id)
        await wait_for_status(client.session, created.task_id, "cancelled")
    assert alice not in server.log() and bob not in server.log()
