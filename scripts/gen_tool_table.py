"""The README's tool table, generated from the tool registry.

uv run python scripts/gen_tool_table.py           # print the table
uv run python scripts/gen_tool_table.py --write   # rewrite it in README.md
uv run python scripts/gen_tool_table.py --check   # exit 1 if README.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from openai_assistant_mcp.mcp.tools.registry import all_tools

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- tools:start -->", "<!-- tools:end -->"


def tool_table() -> str:
    rows = [
        "| Tool | Toolset | Changes data | What it does |",
        "| --- | --- | --- | --- |",
    ]
    for spec in all_tools():
        changes = "no" if spec.read_only else ("deletes" if spec.effect == "delete" else "yes")
        description = spec.description.replace("|", "\\|")
        rows.append(f"| `{spec.name}` | {spec.toolset} | {changes} | {description} |")
    return "\n".join(rows)


def readme_table(text: str) -> str:
    """The text between the README's markers (without surrounding blank lines)."""
    if START not in text or END not in text:
        raise SystemExit(f"README.md lacks the {START} / {END} markers")
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    parser.add_argument("--check", action="store_true", help="fail if README.md is out of date")
    args = parser.parse_args()
    table = tool_table()
    if not (args.write or args.check):
        print(table)
        return
    text = README.read_text()
    if args.check:
        if readme_table(text) != table:
            sys.exit("README.md's tool table is out of date: run scripts/gen_tool_table.py --write")
        return
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(f"{head}{START}\n{table}\n{END}{tail}")


if __name__ == "__main__":
    main()
