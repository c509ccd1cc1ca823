"""Helpers for the playground and inspector tests: the REST API as the test's own client (to
set up assistants, files and threads the page then shows) and small waits on the page."""

from __future__ import annotations

import time
from typing import Any

import openai

from tests.mcp.servers import ServerProcess
from tests.support.browser import WAIT_SECONDS, Console

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def rest(server: ServerProcess, key: str) -> openai.OpenAI:
    """The official SDK on the console's server, calling as `key`'s tenant."""
    return openai.OpenAI(base_url=server.url("/v1"), api_key=key, max_retries=0, timeout=60)


def wait_until(condition: Any, what: str, timeout: float = WAIT_SECONDS) -> Any:
    """Polls `condition()` until it is truthy (a server-side state the page does not show)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ingested_store(client: openai.OpenAI, *files: tuple[str, bytes]) -> tuple[str, dict[str, str]]:
    """A vector store holding `files` (name, bytes), once every file is ingested; its ID and
    the files' IDs by name."""
    ids = {
        name: client.files.create(file=(name, data), purpose="assistants").id
        for name, data in files
    }
    store = client.vector_stores.create(name="console test", file_ids=list(ids.values()))

    def ready() -> bool:
        counts = client.vector_stores.retrieve(store.id).file_counts
        assert counts.failed == 0, counts
        return counts.completed == len(ids)

    wait_until(ready, "the store's files to be ingested", timeout=300)
    return store.id, ids


def open_playground(
    console: Console, key: str, thread_id: str = "", assistant_id: str = ""
) -> None:
    route = "playground" + (f"/{thread_id}" if thread_id else "")
    if assistant_id:
        route += f"?assistant={assistant_id}"
    console.open(route, key=key)
    console.find("[data-page=playground] .threads")
    console.wait(lambda d: d.find_elements("css selector", "#pg-assistant option"))
    console.severe_console_messages()  # drained: what earlier pages logged is not this one's


def send(console: Console, text: str) -> None:
    box = console.find("textarea[name=message]")
    box.clear()
    box.send_keys(text)
    console.find("button.send").click()


def run_status(console: Console, status: str) -> Any:
    """Waits until the page's run badge says `status`."""
    return console.find(f".run-status [data-status={status}]")


def no_script_ran(console: Console) -> None:
    """Nothing the tests planted (window.pwned) ran, and the browser logged no CSP violation or
    script error since the page was opened."""
    assert console.driver.execute_script("return window.pwned === undefined")
    assert console.severe_console_messages() == []
