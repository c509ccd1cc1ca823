"""Size of tool results as a client receives them (issue 9): each result carries a one-line
summary and the whole result as JSON text (for text-only clients such as mcpo), besides
`structuredContent`.

Measures, over stdio with the embedded engine and the scripted provider: get_assistant, a
list_messages page of 20 messages, create_run with its messages, and list_assistants (20).

    uv run python bench/bench_result_size.py [--words 40] [--write]

--write replaces the "Tool result sizes (issue 9)" section of bench/RESULTS.md."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from common import machine_lines, write_section
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests/
from tests.support.scripted_provider import ScriptedProvider, Text

COMMAND = str(Path(sys.executable).with_name("openai-assistant-mcp"))
SECTION = "## Tool result sizes (issue 9)"


def sizes(result: Any) -> dict[str, int]:
    texts = [block.text for block in result.content]
    structured = json.dumps(result.structured_content, ensure_ascii=False, separators=(",", ":"))
    return {
        "summary": len(texts[0].encode()),
        "json_text": sum(len(t.encode()) for t in texts[1:]),
        "structured": len(structured.encode()),
        "whole_answer": len(result.model_dump_json(by_alias=True, exclude_none=True).encode()),
    }


async def measure(words: int) -> dict[str, dict[str, int]]:
    sentence = " ".join(["lorem"] * words)
    found: dict[str, dict[str, int]] = {}
    with ScriptedProvider() as provider, tempfile.TemporaryDirectory() as data_dir:
        provider.forever(Text(f"Answer: {sentence}"))
        env = {"DATA_DIR": data_dir, "OPENAI_BASE_URL": provider.base_url, "LOG_LEVEL": "ERROR"}
        env["OPENAI_API_KEY"] = "sk-bench-size"
        async with Client(StdioServerParameters(command=COMMAND, env=env)) as client:

            async def call(tool: str, args: dict[str, Any]) -> Any:
                result = await client.call_tool(tool, args)
                assert not result.is_error, result.content[0].text
                return result

            made = await call(
                "create_assistant",
                {"model": "m", "name": "Sizer", "instructions": "Answer briefly. " * 20},
            )
            assistant_id = made.structured_content["id"]
            found["get_assistant"] = sizes(
                await call("get_assistant", {"assistant_id": assistant_id})
            )
            for _ in range(19):
                await call("create_assistant", {"model": "m", "name": "Other"})
            found["list_assistants (20)"] = sizes(await call("list_assistants", {"limit": 20}))
            thread = await call("create_thread", {})
            thread_id = thread.structured_content["id"]
            for index in range(10):
                ran = await call(
                    "create_run",
                    {
                        "thread_id": thread_id,
                        "assistant_id": assistant_id,
                        "additional_messages": [{"content": f"Question {index}: {sentence}"}],
                    },
                )
            found["create_run (run + its message)"] = sizes(ran)
            page = await call("list_messages", {"thread_id": thread_id, "limit": 20})
            assert len(page.structured_content["data"]) == 20
            found["list_messages (20)"] = sizes(page)
    return found


def report(found: dict[str, dict[str, int]], words: int) -> str:
    lines = [
        SECTION,
        "",
        *machine_lines(),
        f"- Command: `uv run python bench/bench_result_size.py --words {words}` (messages of "
        f"~{words} words; bytes of UTF-8)",
        "",
        "| result | summary line | JSON text | structuredContent | whole CallToolResult |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, s in found.items():
        lines.append(
            f"| {name} | {s['summary']:,} | {s['json_text']:,} | {s['structured']:,} "
            f"| {s['whole_answer']:,} |"
        )
    lines += [
        "",
        "The JSON text equals structuredContent byte for byte (compact separators): a client "
        "that reads both gets the result twice, one that reads either (mcpo reads only the "
        "text) gets it once. A message in a page costs its text plus ~400 bytes of fields; "
        "the summary line is capped at 300 characters.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=40, help="words per message (default 40)")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    found = anyio.run(measure, args.words)
    text = report(found, args.words)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
