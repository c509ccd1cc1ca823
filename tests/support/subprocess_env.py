"""The environment of a Python subprocess a test starts (an engine, the `alembic` CLI): compiled
bytecode kept, outside the tree.

This machine sets PYTHONDONTWRITEBYTECODE and the venv holds no compiled bytecode, so every
spawned Python compiled all it imports from source again: 5.3 CPU-seconds to import the engine
and uvicorn, against 2.4 s from the kept bytecode (measured at load 27). tests/mcp/servers.py
does the same for the MCP servers."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import TypeVar

E = TypeVar("E", bound=MutableMapping[str, str])

PYCACHE = str(Path(tempfile.gettempdir()) / "openai-assistant-mcp-pyc")


def keep_bytecode(env: E) -> E:
    """`env` with compiled bytecode written and read under one shared prefix."""
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    return env


def keep_bytecode_everywhere() -> None:
    """The same for the test process itself and every Python it starts (an xdist worker, a
    `tenants` command, the MCP SDK's stdio servers), set once at the session's start."""
    keep_bytecode(os.environ)
    sys.dont_write_bytecode = False
    sys.pycache_prefix = PYCACHE
