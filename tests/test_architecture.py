"""The direction of dependencies ARCHITECTURE.md promises, checked on the source's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "openai_assistant_mcp"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]  # the package the module is in (for an __init__, the package itself)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def sources(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


@pytest.mark.parametrize("path", sources(PACKAGE / "engine"), ids=lambda p: p.name)
def test_the_engine_imports_nothing_outside_itself(path: Path) -> None:
    outside = {
        name
        for name in imported_modules(path)
        if name.startswith("openai_assistant_mcp")
        and not name.startswith("openai_assistant_mcp.engine")
    }
    assert not outside, f"{path} imports {sorted(outside)}"


@pytest.mark.parametrize("path", sources(PACKAGE / "tools"), ids=lambda p: p.name)
def test_tools_do_no_io_of_their_own(path: Path) -> None:
    """Tools reach the API only through the openai SDK client they are handed."""
    forbidden = ("httpx", "httpx2", "sqlalchemy", "socket", "openai_assistant_mcp.engine")
    found = {
        name
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    }
    assert not found, f"{path} imports {sorted(found)}"
