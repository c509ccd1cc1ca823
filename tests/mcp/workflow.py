"""The whole user workflow, run through any MCP client: assistant -> thread -> message -> run
with a function tool -> submit outputs -> list messages, against the scripted model provider."""

from __future__ import annotations

import json
from typing import Any

import anyio
from mcp import Client

from tests.support.scripted_provider import Call, ScriptedProvider, Text, ToolCalls

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


async def call(client: Client, tool: str, arguments: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """Calls a tool that must succeed; returns its structured result."""
    result = await client.call_tool(tool, arguments, **kw)
    text = result.content[0].text if result.content else ""
    assert not result.is_error, f"{tool} failed: {text}"
    assert text, f"{tool} returned no readable text"
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def call_error(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    """Calls a tool that must fail; returns its one-line error text."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} unexpectedly succeeded: {result.structured_content}"
    text = result.content[0].text
    assert "\n" not in text
    return text


async def run_workflow(client: Client, provider: ScriptedProvider, name: str) -> dict[str, Any]:
    """The README's workflow; asserts every step and returns what it created."""
    provider.script(
        ToolCalls(Call("get_weather", {"city": "Paris"}, id="call_weather_1")),
        Text("It is sunny in Paris today, 24 degrees."),
    )
    assistant = await call(
        client,
        "create_assistant",
        {
            "model": "scripted-model",
            "name": name,
            "instructions": "You answer weather questions using get_weather.",
            "tools": [WEATHER_TOOL],
        },
    )
    assert assistant["id"].startswith("asst_")
    thread = await call(client, "create_thread", {"metadata": {"workflow": name}})
    message = await call(
        client,
        "create_message",
        {"thread_id": thread["id"], "content": "What is the weather in Paris?"},
    )
    assert message["role"] == "user"

    progress: list[str] = []
    heard_answer = anyio.Event()

    async def on_progress(amount: float, total: float | None, text: str | None) -> None:
        progress.append(text or "")
        if "sunny" in "".join(progress):
            heard_answer.set()

    started = await call(
        client,
        "create_run",
        {"thread_id": thread["id"], "assistant_id": assistant["id"]},
        progress_callback=on_progress,
    )
    run = started["run"]
    assert run["status"] == "requires_action", run
    (tool_call,) = started["tool_calls"]
    assert tool_call["id"] == "call_weather_1"
    assert tool_call["function"]["name"] == "get_weather"
    assert json.loads(tool_call["function"]["arguments"]) == {"city": "Paris"}

    finished = await call(
        client,
        "submit_tool_outputs",
        {
            "thread_id": thread["id"],
            "run_id": run["id"],
            "tool_outputs": [{"tool_call_id": "call_weather_1", "output": "sunny, 24 C"}],
        },
        progress_callback=on_progress,
    )
    assert finished["run"]["status"] == "completed", finished["run"]
    replies = [m for m in finished["messages"] if m["role"] == "assistant"]
    assert replies[-1]["content"][0]["text"]["value"] == "It is sunny in Paris today, 24 degrees."
    # The answer streamed to the client as progress notifications while the run ran (the
    # client runs progress callbacks as tasks of their own, so the last may still be due).
    with anyio.fail_after(60):
        await heard_answer.wait()
    assert "sunny" in "".join(progress), progress

    listed = await call(client, "list_messages", {"thread_id": thread["id"], "order": "asc"})
    roles = [m["role"] for m in listed["data"]]
    assert roles == ["user", "assistant"], roles
    assert listed["data"][1]["run_id"] == run["id"]

    # The provider saw the tool's output in the second request.
    second = provider.requests[-1].body["messages"]
    assert any(m.get("role") == "tool" and "sunny, 24 C" in str(m.get("content")) for m in second)
    return {"assistant": assistant, "thread": thread, "run": finished["run"]}
