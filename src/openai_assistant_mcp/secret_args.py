"""Secrets on the command line: each secret setting may also come from a file (`--auth-token-file
PATH`, or the environment's `MCP_AUTH_TOKEN_FILE`), and one given in argv itself gets a warning,
as the process list shows every process's arguments to every local user. The secrets are the
settings model's SecretStr fields."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from .settings_flags import flag_fields, flag_of


@dataclass(frozen=True)
class Secret:
    dest: str  # the field, where argparse puts its flag's value
    flag: str
    env: str


def secrets_of(model: type[BaseSettings]) -> Iterator[Secret]:
    for name, info in flag_fields(model):
        if info.annotation in (SecretStr, SecretStr | None):
            yield Secret(name, flag_of(name, info), str(info.alias))


def _file_dest(secret: Secret) -> str:
    return "secret_file." + secret.dest


def add_secret_file_flags(parser: argparse.ArgumentParser, model: type[BaseSettings]) -> None:
    """`--<flag>-file PATH` for each of the model's secrets."""
    group = parser.add_argument_group("secrets from files (kept out of the process list)")
    for secret in secrets_of(model):
        group.add_argument(
            secret.flag + "-file",
            dest=_file_dest(secret),
            metavar="PATH",
            help=f"read {secret.flag.removeprefix('--')} from this file (env {secret.env}_FILE)",
        )


def resolve_secrets(args: argparse.Namespace, model: type[BaseSettings]) -> None:
    """Put each secret read from its file into `args` (a flag wins over a file, a file flag
    over the environment, `X` over `X_FILE`); warn about each secret given in argv.
    Raises ValueError naming the file that cannot be read."""
    values = vars(args)
    for secret in secrets_of(model):
        path = values.pop(_file_dest(secret), None)
        if values.get(secret.dest) is not None:
            print(
                f"warning: {secret.flag} puts a secret on the command line, where other local "
                f"users can read it (ps); use {secret.env} or {secret.flag}-file instead.",
                file=sys.stderr,
            )
            continue
        if path is None and not os.environ.get(secret.env):
            path = os.environ.get(secret.env + "_FILE") or None
        if path is not None:
            values[secret.dest] = read_secret(path, secret.flag + "-file")


def read_secret(path: str, what: str) -> str:
    """The file's content without surrounding whitespace; ValueError when unreadable/empty."""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ValueError(f"cannot read {what} {path!r}: {reason}") from None
    if not value:
        raise ValueError(f"{what} {path!r} is empty")
    return value
