"""Command-line flags derived from the settings tree: one flag per field that has an env name,
`--<field-name>` (or the field's `flag`), its help the field's description, env name and
default. Hand-written over argparse: pydantic-settings' CLI names flags after the alias (the
env name), has no room for the documented flag names, and the admin subcommands are argparse."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Collection, Iterator
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings


def _extra(info: FieldInfo) -> dict[str, Any]:
    return info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}


def flag_of(name: str, info: FieldInfo) -> str:
    """The field's flag: its `flag`, else `--` and its name in kebab case."""
    return str(_extra(info).get("flag") or "--" + name.replace("_", "-"))


def flag_fields(model: type[BaseSettings]) -> Iterator[tuple[str, FieldInfo]]:
    """The fields of `model` that are settings of their own (they have an env name)."""
    for name, info in model.model_fields.items():
        if info.alias:
            yield name, info


def env_only_sections(model: type[BaseSettings]) -> Iterator[tuple[str, type[BaseSettings]]]:
    """The nested settings sections of `model` read from the environment only (no flags):
    (field name, section model), e.g. the code_interpreter sandbox's SANDBOX_* settings."""
    for name, info in model.model_fields.items():
        section = info.annotation
        if not info.alias and isinstance(section, type) and issubclass(section, BaseSettings):
            yield name, section


def env_only_help(section: type[BaseSettings]) -> str:
    """One line per setting of `section`: env name, description, default (for --help)."""
    return "\n".join(
        f"{info.alias} (default {shown_default(info)})\n    {info.description}"
        for _, info in flag_fields(section)
    )


def shown_default(info: FieldInfo) -> str:
    """A setting's default as --help shows it ("not set", "on"/"off", a comma list)."""
    shown = _extra(info).get("shown_default")
    if shown:
        return str(shown)
    default = info.get_default(call_default_factory=True)
    if default is None or default in ("", ()):
        return "not set"
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, tuple):
        return ",".join(str(item) for item in default)
    return str(default)


def _section(model: type[BaseSettings], name: str) -> tuple[int, str]:
    """(place in the MRO, title) of the settings section that declares the field."""
    for place, cls in enumerate(model.__mro__):
        if name in inspect.get_annotations(cls):
            return place, str(getattr(cls, "cli_group", "options"))
    return len(model.__mro__), "options"


def add_settings_flags(
    parser: argparse.ArgumentParser,
    model: type[BaseSettings],
    only: Collection[str] | None = None,
) -> None:
    """A flag for each setting of `model` (or of `only` those), grouped by section."""
    groups: dict[str, Any] = {}
    fields = [(name, info) for name, info in flag_fields(model) if only is None or name in only]
    # The command's own section first, then its bases' (sorted() keeps each one's order).
    for name, info in sorted(fields, key=lambda field: _section(model, field[0])[0]):
        title = _section(model, name)[1]
        if title not in groups:
            groups[title] = parser.add_argument_group(title)
        env = str(info.alias)
        text = f"{info.description} (env {env}; default {shown_default(info)})"
        if info.annotation is bool:
            action = argparse.BooleanOptionalAction
            groups[title].add_argument(
                flag_of(name, info), dest=name, action=action, help=text, default=argparse.SUPPRESS
            )
        else:
            groups[title].add_argument(flag_of(name, info), dest=name, metavar=env, help=text)
    if only is None:
        for _, section in env_only_sections(model):
            title = str(getattr(section, "cli_group", "environment only"))
            parser.add_argument_group(title, env_only_help(section))


def settings_from(args: argparse.Namespace, model: type[BaseSettings]) -> Any:
    """`model` from the environment, with every flag given on the command line on top."""
    fields = model.model_fields
    given = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    return model(**given)
