"""compose.yaml as Docker Compose reads it: the file, its `${VAR...}` references, and the mcp
service's environment interpolated the way `docker compose up` does (no Compose here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "compose.yaml"
# Compose's interpolation forms: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}.
_REFERENCE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


@dataclass(frozen=True)
class Reference:
    """One `${name<op>word}` in the file: op is "" (plain), ":-"/"-" (default) or ":?"/"?"."""

    name: str
    op: str
    word: str


def load() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def references(value: str) -> list[Reference]:
    return [Reference(*match) for match in _REFERENCE.findall(value)]


class MissingVariable(Exception):
    """A `${VAR:?message}` whose variable is unset: Compose stops with this message."""


def interpolate(value: str, env: dict[str, str]) -> str:
    """`value` with its references resolved from `env`, as Compose does (`$$` is a literal $)."""

    def resolve(match: re.Match[str]) -> str:
        name, op, word = match.groups()
        given = env.get(name)
        unset = given is None or (given == "" and op.startswith(":"))
        if op.endswith("?") and unset:
            raise MissingVariable(f"required variable {name} is missing a value: {word}")
        if op.endswith("-") and unset:
            return word
        return given or ""

    return _REFERENCE.sub(resolve, value).replace("$$", "$")


def service_environment(service: str, env: dict[str, str]) -> dict[str, str]:
    """A service's `environment:` mapping, interpolated with `env` as the shell's variables."""
    mapping = load()["services"][service]["environment"]
    return {key: interpolate(str(value), env) for key, value in mapping.items()}
