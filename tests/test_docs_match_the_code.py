"""Docs that cannot drift from the code (issue 24): every setting in --help, the settings page
generated from the settings models, the README's settings table naming real settings and
flags, and every tool count in the docs equal to the registry's."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from openai_assistant_mcp.cli import build_parser
from openai_assistant_mcp.engine.sandbox.settings import SandboxSettings
from openai_assistant_mcp.mcp.tools.registry import all_tools
from openai_assistant_mcp.settings import APISettings, Settings, StoreSettings
from openai_assistant_mcp.settings_flags import flag_fields, flag_of

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from gen_settings_table import PAGE, page  # noqa: E402


def _help(*command: str) -> str:
    parser = build_parser()
    for name in command:  # the subcommand's own parser
        subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = subparsers.choices[name]  # type: ignore[attr-defined]
    return parser.format_help()


def test_every_setting_appears_in_a_help() -> None:
    shown = " ".join([_help(), _help("api"), _help("tenants", "list"), _help("sandbox")])
    for model in (Settings, APISettings, StoreSettings, SandboxSettings):
        for _, info in flag_fields(model):
            assert str(info.alias) in shown, info.alias
    for _, info in flag_fields(SandboxSettings):
        assert str(info.alias) in _help("sandbox", "setup")
        assert str(info.alias) in _help(), "the MCP server's --help lists the sandbox's too"


def test_the_settings_page_is_generated() -> None:
    assert PAGE.read_text() == page(), "run: uv run python scripts/gen_settings_table.py --write"


def test_the_tenant_commands_offer_only_the_settings_they_read() -> None:
    """CONSOLE_ENABLED, RUN_*, SANDBOX_*... do nothing for `tenants`: neither its --help nor
    the settings page offers them there."""
    read = {
        str(info.alias) for name, info in flag_fields(StoreSettings) if name in StoreSettings.READ
    }
    assert {"DATABASE_URL", "DATA_DIR", "ENGINE_SECRET", "FILE_STORAGE_QUOTA_BYTES"} <= read
    rows = re.findall(r"^\| `([A-Z_]+)` \|.*\| ([a-z, ]+) \|$", PAGE.read_text(), re.M)
    assert {env for env, commands in rows if "tenants" in commands.split(", ")} == read
    shown = set(re.findall(r"\(env ([A-Z_]+);", " ".join(_help("tenants", "move").split())))
    assert shown == read


def test_the_readme_settings_table_names_real_settings_and_flags() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    real = {
        str(info.alias): flag_of(name, info)
        for model in (Settings, APISettings)
        for name, info in flag_fields(model)
    }
    rows = re.findall(r"^\| (`[A-Z_]+`.*?) \| (`--.*?) \|", section, re.M)
    assert len(rows) >= 10
    for envs, flags in rows:
        names = re.findall(r"`([A-Z_]+)`", envs)
        given = re.findall(r"`(--[a-z-]+)`", flags)
        assert len(names) == len(given), envs
        for env, flag in zip(names, given, strict=True):
            assert real.get(env) == flag, f"{env}: README says {flag}, the code {real.get(env)}"
    assert "docs/settings.md" in section


def test_every_tool_count_in_the_docs_is_the_registrys() -> None:
    count = len(list(all_tools()))
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for said in re.findall(r"\b(\d+) (?:MCP )?tools\b", doc.read_text()):
            assert int(said) == count, f"{doc.name} says {said} tools; there are {count}"
