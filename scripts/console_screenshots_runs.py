"""Screenshots of the console's playground and run inspector for the docs
(docs/console/playground.png, docs/console/inspector.png): a real `openai-assistant-mcp api`
with a scripted model, Debian's headless chromium, a file_search run that cites a file.

    uv run python scripts/console_screenshots_runs.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.console.helpers import WEATHER_TOOL, ingested_store, rest  # noqa: E402
from tests.mcp.servers import free_port, running_server, server_env  # noqa: E402
from tests.support.browser import Console, chromium  # noqa: E402
from tests.support.scripted_provider import (  # noqa: E402
    Call,
    CiteSources,
    ScriptedProvider,
    SearchFiles,
    ToolCalls,
)

KEY = "sk-screenshots-0001"


def main() -> None:
    with ScriptedProvider() as provider, tempfile.TemporaryDirectory() as directory:
        port = str(free_port())
        env = server_env(Path(directory) / "data", provider.base_url)
        with running_server(["api", "--port", port], env, Path(directory) / "log") as server:
            client = rest(server, KEY)
            store_id, _ = ingested_store(
                client,
                ("field-notes.md", b"# Field notes\nKittens sleep most of the night."),
                ("rates.txt", b"Interest rates rose by a quarter point in March."),
            )
            client.beta.assistants.create(
                model="llama-3.1-8b",
                name="Research helper",
                instructions="Answer from the user's files; cite them.",
                tools=[{"type": "file_search"}, WEATHER_TOOL],  # type: ignore[list-item]
                tool_resources={"file_search": {"vector_store_ids": [store_id]}},
            )
            provider.script(
                SearchFiles("kittens sleep", id="call_search"),
                CiteSources("Kittens sleep most of the night {first}."),
                ToolCalls(Call("get_weather", {"city": "Paris"}, id="call_weather")),
            )
            with chromium() as driver:
                console = Console(driver, server.url(""))
                console.open("playground", key=KEY)
                console.find("#pg-assistant option")
                box = console.find("textarea[name=message]")
                box.send_keys("When do kittens sleep?")
                console.find("button.send").click()
                console.find(".run-status [data-status=completed]")
                console.find(".msg[data-role=assistant] button.cite").click()
                console.find(".file-view .quote")
                box.send_keys("And the weather in Paris?")
                console.find("button.send").click()
                console.find(".run-status [data-status=requires_action]")
                driver.set_window_size(1280, 1400)
                driver.save_screenshot(str(ROOT / "docs" / "console" / "playground.png"))
                run_link = console.find(".msg[data-role=assistant] a.run-link")
                run_link.click()
                console.find(".step-tool_calls .tool-file_search .chunk")
                driver.save_screenshot(str(ROOT / "docs" / "console" / "inspector.png"))
    print("wrote docs/console/playground.png, docs/console/inspector.png")


if __name__ == "__main__":
    main()
