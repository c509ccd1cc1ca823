"""`openai-assistant-mcp tenants list|move`: see whose data the store holds, and move a tenant's
data to a new key. Keys are read from environment variables or standard input, never argv
(other local users can read a process's arguments)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import TextIO

from .engine.settings import EngineSettings

MOVE_EPILOG = """\
examples:
  # key rotation: give the old key's data to the new key
  OLD_OPENAI_API_KEY=sk-old NEW_OPENAI_API_KEY=sk-new openai-assistant-mcp tenants move
  # data stored without a key (single-user mode before keys named tenants) to your key
  NEW_OPENAI_API_KEY="$OPENAI_API_KEY" openai-assistant-mcp tenants move --from-keyless
  # keys typed or piped on standard input: old key, then new key, one per line
  openai-assistant-mcp tenants move --stdin

Stop the servers that use this store first: a run executing meanwhile would keep writing
under the old key."""


def add_tenant_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """`tenants list` and `tenants move` (with the data-location flags in `common`)."""
    tenants = commands.add_parser(
        "tenants",
        help="list the store's tenants, or move a tenant's data to a new key",
        description="Each API key is a tenant: a keyed hash of the key (the key is never "
        "stored). These commands work on the store directly (SQLite or PostgreSQL).",
    )
    actions = tenants.add_subparsers(dest="tenants_action", metavar="{list,move}", required=True)
    actions.add_parser(
        "list",
        parents=[common],
        help="tenants as short hash prefixes with their object counts",
        description="Each tenant with data: a 12-character prefix of its hash and how many "
        "objects of each kind it owns. A tenant whose key is in OPENAI_API_KEY is marked.",
    )
    move = actions.add_parser(
        "move",
        parents=[common],
        help="move every object of an old key's tenant to a new key's (one transaction)",
        description="Move every object of the old key's tenant to the new key's tenant, in "
        "one transaction. If the old key owns nothing, nothing changes and the command says "
        "so (exit code 1).",
        epilog=MOVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    move.add_argument(
        "--old-key-env",
        default="OLD_OPENAI_API_KEY",
        metavar="NAME",
        help="environment variable holding the old key (default OLD_OPENAI_API_KEY)",
    )
    move.add_argument(
        "--new-key-env",
        default="NEW_OPENAI_API_KEY",
        metavar="NAME",
        help="environment variable holding the new key (default NEW_OPENAI_API_KEY)",
    )
    move.add_argument(
        "--from-keyless",
        action="store_true",
        help="move the data stored without a key (the default tenant) instead of an old key's",
    )
    move.add_argument(
        "--stdin",
        action="store_true",
        help="read the keys from standard input instead: the old key (unless --from-keyless), "
        "then the new key, one per line; prompts without echo on a terminal",
    )


def run_tenants(args: argparse.Namespace, settings: EngineSettings) -> int:
    """Carry out `tenants list|move`; the exit code."""
    # Imported here: the store's imports (SQLAlchemy, Alembic: ~0.2 s) would otherwise delay
    # every start of the MCP server, which answers `initialize` before loading the engine.
    from .engine.admin import NothingToMove, move_tenant

    if args.tenants_action == "list":
        return _list(settings, sys.stdout)
    try:
        old_key, new_key = _keys(args)
    except ValueError as exc:
        print(f"tenants move: {exc}", file=sys.stderr)
        return 2
    try:
        old, new = asyncio.run(move_tenant(settings, old_key, new_key))
    except NothingToMove as exc:
        print(f"tenants move: tenant {exc} owns no data; nothing was changed.", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"tenants move: {exc}; nothing was changed.", file=sys.stderr)
        return 2
    print(f"Moved {_objects(old.counts)} from {old.label} to {new.label}.")
    return 0


def _list(settings: EngineSettings, out: TextIO) -> int:
    from .engine.admin import list_tenants

    found, hasher = asyncio.run(list_tenants(settings))
    if not found:
        print("No tenants: the store is empty.", file=out)
        return 0
    mine = os.environ.get("OPENAI_API_KEY")
    marked = hasher.tenant_for(mine) if mine else None
    for tenant in found:
        mark = "  (OPENAI_API_KEY)" if tenant.tenant == marked else ""
        print(f"{tenant.label:<16} {_objects(tenant.counts)}{mark}", file=out)
    return 0


def _objects(counts: dict[str, int]) -> str:
    """'3 assistants, 1 thread, 12 messages' (tables with no rows left out)."""
    parts = [_counted(n, table) for table, n in counts.items() if n]
    return ", ".join(parts) or "nothing"


def _counted(count: int, table: str) -> str:
    noun = table.replace("_", " ")
    return f"{count} {noun.removesuffix('s') if count == 1 else noun}"


def _keys(args: argparse.Namespace) -> tuple[str | None, str]:
    """(old key or None for the keyless tenant, new key), from stdin or the environment."""
    if args.stdin:
        wanted = ["new key"] if args.from_keyless else ["old key", "new key"]
        values = [_read_key(label) for label in wanted]
    else:
        names = [args.new_key_env] if args.from_keyless else [args.old_key_env, args.new_key_env]
        values = [os.environ.get(name, "").strip() for name in names]
        missing = [name for name, value in zip(names, values, strict=True) if not value]
        if missing:
            raise ValueError(f"set {' and '.join(missing)} (or use --stdin)")
    if args.from_keyless:
        return None, values[0]
    return values[0], values[1]


def _read_key(label: str) -> str:
    value = getpass.getpass(f"{label}: ") if sys.stdin.isatty() else sys.stdin.readline()
    if not value.strip():
        raise ValueError(f"no {label} on standard input")
    return value.strip()
