"""The README's test command on a fresh clone with nothing beside it: the repository carries
everything its tests need (no spec folder beside it, no machine PostgreSQL). A clone of HEAD in
an empty temporary directory collects the whole suite and runs a fast subset, PostgreSQL
included."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Fast, and touching what a missing outside file would break: the spec facts (every engine
# response is checked against them), the SDK check, and the PostgreSQL server from PyPI.
SUBSET = ["tests/engine/test_fixtures_smoke.py", "tests/engine/test_assistants.py"]


def test_nothing_in_the_repository_reads_outside_it() -> None:
    """No source, test, benchmark or script names a path beside the repository."""
    # The sibling folder's name is split so this file does not match its own pattern.
    sibling = "sha" + "red"
    outside = re.compile(rf"\.\./{sibling}|/work/|parents\[2\]\.parent|{sibling}/spec")
    found = [
        f"{path.relative_to(REPO)}: {line.strip()}"
        for folder in ("src", "tests", "bench", "scripts", ".ci")
        for path in (REPO / folder).rglob("*")
        if path.is_file() and path.suffix in (".py", "", ".sh", ".toml") and path != Path(__file__)
        for line in path.read_text(errors="ignore").splitlines()
        if outside.search(line)
    ]
    assert found == []


def _clean_env(home: Path) -> dict[str, str]:
    """This environment minus what would point the clone at this checkout's venv."""
    dropped = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTEST_", "UV_RUN")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    # Bytecode beside the clone, not in it: the subset's run reuses what collecting compiled
    # (without it, each of the two runs compiles every module of the suite and its packages).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
    env["TMPDIR"] = str(home)
    return env


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("uv") is None, reason="no git/uv")
# A new venv, a collection and a subset: 8 minutes alone on one loaded core, past the suite's
# 10-minute hang bound within the whole run; each uv step keeps its own 15-minute bound.
@pytest.mark.timeout(1800)
def test_a_fresh_clone_collects_and_passes_a_subset(tmp_path: Path) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    clone = tmp_path / "empty" / "clone"  # nothing beside it: no spec folder
    clone.parent.mkdir()
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=300)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head], check=True)
    assert sorted(p.name for p in clone.parent.iterdir()) == ["clone"]
    env = _clean_env(tmp_path)

    def uv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["uv", "run", "--locked", *args], cwd=clone, env=env, capture_output=True,
            text=True, timeout=900,
        )  # fmt: skip

    collected = uv("pytest", "--collect-only", "-q", "-p", "no:cacheprovider")
    assert collected.returncode == 0, collected.stdout[-4000:] + collected.stderr[-4000:]
    count = re.search(r"(\d+) tests collected", collected.stdout)
    assert count and int(count.group(1)) > 400, collected.stdout[-2000:]
    ran = uv("pytest", "-q", "-x", "-rs", "-p", "no:cacheprovider", *SUBSET)
    output = ran.stdout[-4000:] + ran.stderr[-2000:]
    assert ran.returncode == 0, output
    # PostgreSQL ran too: the one skip allowed is pgvector's own test on a CPU without AVX-512
    # (tests/support/postgres.py).
    skips = [line for line in ran.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all("AVX-512" in line for line in skips), output
