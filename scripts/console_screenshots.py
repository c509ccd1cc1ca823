"""Screenshots of the web console's pages for docs/console/ (linked from the README), taken in
the tests' headless chromium (tests/support/browser.py) against a real `api` server filled
with sample data.

    uv run python scripts/console_screenshots.py [--out docs/console]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.mcp.servers import free_port, running_server, server_env  # noqa: E402
from tests.support.browser import PHONE, Console, chromium  # noqa: E402

KEY = "sk-console-screenshots"
DOCS = {
    "pump-manual.md": "# Pump P-200\n\nTo bleed the pump, open valve V2 a quarter turn "
    "and run it at low speed until the water comes out clear.",
    "safety.txt": "Wear gloves when handling the filter cartridge. Replace it every six months.",
    "sales-2026.csv": "month,units\njan,120\nfeb,135\nmar,160\n",
}


def fill(api: Any) -> str:
    """Sample assistants, files and a store; returns the store's id."""
    files = {name: api.files.create(file=(name, text.encode()), purpose="assistants")
             for name, text in DOCS.items()}  # fmt: skip
    store = api.vector_stores.create(
        name="Maintenance manuals",
        file_ids=[files["pump-manual.md"].id, files["safety.txt"].id],
    )
    api.beta.assistants.create(
        model="gpt-4o-mini",
        name="Maintenance helper",
        description="Answers from the manuals",
        instructions="Answer from the manuals; cite them.",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    api.beta.assistants.create(
        model="gpt-4o-mini",
        name="Sales analyst",
        tools=[
            {"type": "code_interpreter"},
            {
                "type": "function",
                "function": {
                    "name": "get_forecast",
                    "description": "The sales forecast for a month",
                    "parameters": {
                        "type": "object",
                        "properties": {"month": {"type": "string"}},
                        "required": ["month"],
                    },
                },
            },
        ],
        tool_resources={"code_interpreter": {"file_ids": [files["sales-2026.csv"].id]}},
        metadata={"team": "sales"},
    )
    while api.vector_stores.retrieve(store.id).file_counts.in_progress:
        time.sleep(0.2)  # ingestion of the two files
    return store.id


def shoot(console: Console, out: Path, store_id: str) -> list[Path]:
    driver = console.driver
    taken = []

    def save(name: str) -> None:
        path = out / f"{name}.png"
        driver.save_screenshot(str(path))
        taken.append(path)

    console.open("assistants", key=KEY)
    console.find("table.assistants")
    save("assistants")
    console.wait_text("table.assistants a.name", "Sales analyst").click()
    console.find("fieldset.function")
    save("assistant-edit")
    console.open("files", key=KEY)
    console.find("table.files")
    save("files")
    console.open(f"stores/{store_id}", key=KEY)
    console.find(".store-files tr[data-status=completed]")
    console.find("form.search input[name=query]").send_keys("how do I bleed the pump")
    console.find("form.search button[type=submit]").click()
    chunk = console.find("ol.chunks li.chunk")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", chunk)
    save("store-search")
    driver.set_window_size(*PHONE)
    console.open("assistants", key=KEY)
    console.find("table.assistants")
    save("phone-assistants")
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's beta.assistants
    import openai

    with tempfile.TemporaryDirectory(prefix="console-shots-") as tmp:
        env = server_env(Path(tmp) / "data", "http://127.0.0.1:9/v1")
        port = free_port()
        with running_server(["api", "--port", str(port)], env, Path(tmp) / "api.log") as server:
            with openai.OpenAI(api_key=KEY, base_url=server.url("/v1"), max_retries=0) as api:
                store_id = fill(api)
            with chromium((1280, 1000)) as driver:
                for path in shoot(Console(driver, server.url("")), args.out, store_id):
                    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
