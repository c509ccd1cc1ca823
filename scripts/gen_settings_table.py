"""docs/settings.md: every setting of every command, generated from the settings models (the
env name, the flag, the default as --help shows it, what it does, which commands read it).

uv run python scripts/gen_settings_table.py           # print the page
uv run python scripts/gen_settings_table.py --write   # rewrite docs/settings.md
uv run python scripts/gen_settings_table.py --check   # exit 1 if docs/settings.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from openai_assistant_mcp.settings import APISettings, Settings, StoreSettings
from openai_assistant_mcp.settings_flags import (
    env_only_sections,
    flag_fields,
    flag_of,
    shown_default,
)

PAGE = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
# The commands and the settings model each reads (cli.py's COMMAND_SETTINGS).
COMMANDS: dict[str, type[BaseSettings]] = {
    "mcp": Settings,
    "api": APISettings,
    "tenants": StoreSettings,
}
HEADER = """\
# Settings

Every setting of every command: an environment variable and, except the code_interpreter
sandbox's `SANDBOX_*` (environment only), a flag. A flag wins over the variable. `--help`
(`openai-assistant-mcp --help`, `openai-assistant-mcp api --help`, `openai-assistant-mcp sandbox
setup --help`) shows the same, with defaults resolved on the machine it runs on. Commands: `mcp`
is the MCP server (`openai-assistant-mcp`), `api` the REST engine, `tenants` the tenant admin
commands. Secrets (keys, tokens, the engine secret) also come from a file: `--<flag>-file PATH`
or `<ENV>_FILE`.

Generated from the settings models by `scripts/gen_settings_table.py --write`; a test fails when
it drifts.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(info: FieldInfo) -> str:
    # A default computed on the machine (a path, the running Python) says nothing of the
    # reader's: --help shows it resolved.
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if info.default_factory is not None and "shown_default" not in extra:
        return "computed on the machine (see --help)"
    return shown_default(info)


def page() -> str:
    rows: dict[str, dict[str, object]] = {}
    for command, model in COMMANDS.items():
        # The tenant commands read only some of their model's settings (StoreSettings.READ).
        read: frozenset[str] | None = getattr(model, "READ", None)
        sections = [(model, True), *((s, False) for _, s in env_only_sections(model))]
        for section, has_flags in sections:
            for name, info in flag_fields(section):
                if read is not None and (section is not model or name not in read):
                    continue
                env = str(info.alias)
                row = rows.setdefault(
                    env,
                    {
                        # A flag of a subcommand only (the MCP server's come first) with it.
                        "flag": (
                            f"`{'' if command == 'mcp' else command + ' '}{flag_of(name, info)}`"
                            if has_flags
                            else "—"
                        ),
                        "default": _default(info),
                        "what": info.description or "",
                        "commands": [],
                    },
                )
                commands = row["commands"]
                assert isinstance(commands, list)
                commands.append(command)
    lines = [
        HEADER,
        "| env | flag | default | what it does | commands |",
        "| --- | --- | --- | --- | --- |",
    ]
    for env, row in rows.items():
        commands = ", ".join(row["commands"])  # type: ignore[arg-type]
        lines.append(
            f"| `{env}` | {row['flag']} | {_cell(str(row['default']))} | "
            f"{_cell(str(row['what']))} | {commands} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite docs/settings.md")
    parser.add_argument("--check", action="store_true", help="fail if it is out of date")
    args = parser.parse_args()
    text = page()
    if args.check:
        if PAGE.read_text() != text:
            sys.exit("docs/settings.md is out of date: run scripts/gen_settings_table.py --write")
    elif args.write:
        PAGE.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
