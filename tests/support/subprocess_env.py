"""The environment of a Python subprocess a test starts (an engine, the `alembic` CLI): compiled
bytecode kept, outside the tree.

This machine sets PYTHONDONTWRITEBYTECODE and the venv holds no compiled bytecode, so every
spawned Python compiled all it imports from source again: 5.3 CPU-seconds to import the engine
and uvicorn, against 2.4 s from the kept bytecode (measured at load 27). tests/mcp/servers.py
does the same for the MCP servers."""

from __future__ import annotations

import tempfile
from pathlib import Path

PYCACHE = str(Path(tempfile.gettempdir()) / "openai-assistant-mcp-pyc")


def keep_bytecode(env: dict[str, str]) -> dict[str, str]:
    """`env` with compiled bytecode written and read under one shared prefix."""
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    return env
