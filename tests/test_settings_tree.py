"""The settings tree and the CLI derived from it: every env name is declared once in the
source, and every flag the README and docs document parses into the setting it names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from openai_assistant_mcp.cli import COMMAND_SETTINGS, build_parser
from openai_assistant_mcp.engine.sandbox.settings import SandboxSettings
from openai_assistant_mcp.settings import APISettings, Settings, StoreSettings

REPO = Path(__file__).parents[1]
SOURCE = REPO / "src" / "openai_assistant_mcp"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def env_names(model: type[BaseModel]) -> set[str]:
    """Every env name of `model` and of the settings models nested in it."""
    names: set[str] = set()
    for info in model.model_fields.values():
        if info.alias:
            names.add(info.alias)
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            names |= env_names(nested)
    return names


def declared_aliases() -> list[str]:
    """Every `alias="NAME"` literal in the source (one per declaration)."""
    found: list[str] = []
    for path in SOURCE.rglob("*.py"):
        found += re.findall(r'\balias="([A-Z][A-Z0-9_]*)"', path.read_text())
    return found


def test_every_env_name_is_declared_exactly_once() -> None:
    tree = env_names(Settings) | env_names(APISettings) | env_names(StoreSettings)
    declared = declared_aliases()
    counts = {name: declared.count(name) for name in tree}
    assert {name: n for name, n in counts.items() if n != 1} == {}
    # And nothing declares a setting outside the tree (a second, disconnected settings class).
    assert sorted(set(declared) - tree) == []
    for name in ("DATABASE_URL", "DATA_DIR", "OPENAI_BASE_URL", "OPENAI_API_KEY", "LOG_LEVEL"):
        assert name in env_names(Settings) and name in env_names(APISettings), name


# `ENV` / `--flag`, `ENV=true` / `--flag`, `ENV` / `api --flag` (docs/hardening.md), and the
# README's table rows `| ENV | --flag |` (also `A` / `B` | `--a` / `--b`).
_PAIR = re.compile(r"`([A-Z][A-Z0-9_]+)(?:=[^`]*)?` / `((?:api )?--[a-z-]+)`")
_ROW = re.compile(
    r"^\| `([A-Z][A-Z0-9_]+)`(?: / `([A-Z][A-Z0-9_]+)`)? \| `(--[a-z-]+)`(?: / `(--[a-z-]+)`)? \|",
    re.M,
)


def documented_flags() -> set[tuple[str, str]]:
    """(env name, flag with its subcommand) pairs the README and docs document."""
    pairs: set[tuple[str, str]] = set()
    for path in DOCS:
        text = path.read_text()
        pairs |= set(_PAIR.findall(text))
        for env, env2, flag, flag2 in _ROW.findall(text):
            pairs.add((env, flag))
            if env2 and flag2:
                pairs.add((env2, flag2))
    return pairs


def test_the_docs_document_flags() -> None:
    """The extraction below finds the tables (else the next test would check nothing)."""
    pairs = documented_flags()
    assert ("TRANSPORT", "--transport") in pairs
    assert ("API_ALLOWED_HOSTS", "api --allowed-hosts") in pairs
    assert ("MCP_AUTH_TOKEN", "--auth-token-file") in pairs
    assert len(pairs) >= 30


@pytest.mark.parametrize("env, flag", sorted(documented_flags()))
def test_every_documented_flag_parses_into_its_setting(env: str, flag: str) -> None:
    words = flag.split()
    command = words[0] if len(words) > 1 else None
    model: type[BaseSettings] = COMMAND_SETTINGS[command]
    fields = [name for name, info in model.model_fields.items() if info.alias == env]
    assert fields, f"{env} is no setting of {command or 'the MCP server'}"
    field = fields[0]
    if words[-1].endswith("-file"):
        args = build_parser().parse_args([*words, "/dev/null"])
        assert vars(args)["secret_file." + field] == "/dev/null"
        return
    if model.model_fields[field].annotation is bool:
        args = build_parser().parse_args(words)
        assert vars(args)[field] is True
        return
    args = build_parser().parse_args([*words, "value-given"])
    assert vars(args)[field] == "value-given"


@pytest.mark.parametrize(
    "flag",
    [
        "--data-dir",
        "--database-url",
        "--engine-secret",
        "--file-storage-quota-bytes",
        "--log-level",
    ],
)
def test_the_tenant_commands_take_the_store_flags(flag: str) -> None:
    args = build_parser().parse_args(["tenants", "list", flag, "value-given"])
    fields = {n for n, i in StoreSettings.model_fields.items() if i.alias} & set(vars(args))
    assert [vars(args)[name] for name in fields] == ["value-given"]


SECTIONS: list[type[BaseSettings]] = [Settings, APISettings, StoreSettings, SandboxSettings]


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.__name__)
def test_settings_are_read_only_under_their_documented_names(
    section: type[BaseSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: with `populate_by_name`, pydantic-settings also read each field's bare name
    from the environment (an exported AUTH_TOKEN, ALLOWED_HOSTS, INSECURE_NO_AUTH or
    UPLOAD_DIRS changed the MCP server as MCP_AUTH_TOKEN & co. would). Every bare name set
    to a value that parses for most fields changes nothing; the documented name still does."""
    for name in env_names(section):
        monkeypatch.delenv(name, raising=False)
    default = section().model_dump()
    bare = [n for n, f in section.model_fields.items() if (f.alias or "").upper() != n.upper()]
    assert bare, "no field of this section has a name of its own to leak"
    for name in bare:
        monkeypatch.setenv(name.upper(), "1")
    assert section().model_dump() == default
    documented = section.model_fields[bare[0]].alias
    assert documented is not None
    monkeypatch.setenv(documented, "1")
    assert section().model_dump() != default  # the documented name is read
