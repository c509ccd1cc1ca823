"""The package as others install it: every third-party package the source imports is declared
in pyproject.toml, required or in an extra (not merely pulled in by another), the licence
pyproject names is the one shipped, the package says it is typed, and `--version` gives the
installed version."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions, version
from pathlib import Path

from tests.support.subprocess_env import keep_bytecode

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "openai_assistant_mcp"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# Runs inside the sandbox's own venv, never imported by the server (ARCHITECTURE.md).
NOT_THE_SERVERS = {PACKAGE / "engine" / "sandbox" / "driver.py"}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_level_modules() -> dict[str, str]:
    """{top-level module: a file importing it} over the package's absolute imports."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in NOT_THE_SERVERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(REPO)))
    return found


def test_every_imported_package_is_declared() -> None:
    # A required dependency or an optional extra's (pyproject's optional-dependencies).
    extras = PYPROJECT["project"]["optional-dependencies"].values()
    declared = {
        _normalized(re.split(r"[\[<>=!~;\s]", requirement)[0])
        for requirement in [*PYPROJECT["project"]["dependencies"], *(r for e in extras for r in e)]
    }
    distributions = packages_distributions()
    modules = imported_top_level_modules()
    assert "starlette" in modules and "numpy" in modules  # the scan sees the imports
    undeclared = {
        module: where
        for module, where in modules.items()
        if module not in sys.stdlib_module_names
        and module != "openai_assistant_mcp"
        and not {_normalized(d) for d in distributions.get(module, [])} & declared
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_the_licence_shipped_is_the_one_declared() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License\n")


def test_the_package_says_it_is_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()
    assert "Typing :: Typed" in PYPROJECT["project"]["classifiers"]


def test_version_flag_prints_the_installed_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "openai_assistant_mcp.cli", "--version"],
        env=keep_bytecode(dict(os.environ)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"openai-assistant-mcp {version('openai-assistant-mcp')}\n"
    assert version("openai-assistant-mcp") == PYPROJECT["project"]["version"]
