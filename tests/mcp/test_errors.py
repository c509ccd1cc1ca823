"""Failures come back as one-line tool errors naming the cause, and the session goes on."""

from __future__ import annotations

import pytest

from tests.mcp.fixtures import StartServer
from tests.mcp.servers import ServerProcess, streamable_client
from tests.mcp.workflow import call, call_error
from tests.support.scripted_provider import Error, ScriptedProvider


@pytest.fixture(scope="module")
def server(start_server: StartServer) -> ServerProcess:
    """Single-user streamable HTTP server on the embedded engine."""
    return start_server("single-user-http", TRANSPORT="streamable-http")


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("get_assistant", {}, "Invalid arguments: 'assistant_id' is required."),
        (
            "create_assistant",
            {"model": 4},
            "Invalid arguments: 'model': Input should be a valid string.",
        ),
        (
            "create_assistant",
            {"model": "m", "colour": "red"},
            "Invalid arguments: 'colour' is not a known argument.",
        ),
        (
            "create_assistant",
            {"model": "m", "tools": [{"type": "function"}]},
            "Invalid arguments: 'tools[0]': a function tool needs 'function'.",
        ),
        (
            "create_assistant",
            {"model": "m", "metadata": {f"k{i}": "v" for i in range(17)}},
            "Invalid arguments: 'metadata': Dictionary should have at most 16 items after "
            "validation, not more.",
        ),
        (
            "list_messages",
            {"thread_id": "thread_x", "limit": 500},
            "Invalid arguments: 'limit': Input should be less than or equal to 100.",
        ),
        (
            "submit_tool_outputs",
            {"thread_id": "t", "run_id": "r", "tool_outputs": [{"output": "x"}]},
            "Invalid arguments: 'tool_outputs[0].tool_call_id' is required.",
        ),
        (
            "get_message",
            {"thread_id": ".", "message_id": "msg_1"},
            "Invalid arguments: 'thread_id': an ID cannot be '.'.",
        ),
        (
            "get_thread",
            {"thread_id": ".."},
            "Invalid arguments: 'thread_id': an ID cannot be '..'.",
        ),
        ("no_such_tool", {}, "Unknown tool 'no_such_tool'."),
    ],
)
async def test_bad_arguments_are_refused_naming_the_field(
    server: ServerProcess, tool: str, arguments: dict[str, object], expected: str
) -> None:
    async with streamable_client(server.url("/mcp")) as client:
        assert await call_error(client, tool, arguments) == expected
        # The session is fine afterwards.
        await call(client, "list_assistants", {"limit": 1})


async def test_api_errors_name_the_cause(server: ServerProcess) -> None:
    async with streamable_client(server.url("/mcp")) as client:
        missing = await call_error(client, "get_assistant", {"assistant_id": "asst_missing"})
        assert missing == "Assistants API error 404: No assistant found with id 'asst_missing'."
        no_thread = await call_error(
            client, "create_message", {"thread_id": "thread_gone", "content": "hi"}
        )
        assert no_thread == "Assistants API error 404: No thread found with id 'thread_gone'."
        refused = await call_error(
            client, "create_assistant", {"model": "m", "response_format": {"type": "bogus"}}
        )
        assert refused.startswith("Assistants API error 400: ")
        assert "response_format" in refused
        await call(client, "list_assistants", {"limit": 1})


async def test_a_provider_failure_is_a_failed_run_not_a_tool_error(
    server: ServerProcess, model_provider: ScriptedProvider
) -> None:
    model_provider.forever(Error(500, "upstream exploded"))
    async with streamable_client(server.url("/mcp")) as client:
        assistant = await call(client, "create_assistant", {"model": "m"})
        result = await client.call_tool(
            "create_thread_and_run",
            {
                "assistant_id": assistant["id"],
                "thread": {"messages": [{"content": "hello"}]},
                "timeout": 30,
            },
        )
        text = result.content[0].text
        assert not result.is_error, text  # a failed run is a normal result (issue 9)
        assert "\n" not in text
        assert ": failed (server_error: " in text
        assert result.structured_content["run"]["status"] == "failed"
        await call(client, "list_assistants", {"limit": 1})
