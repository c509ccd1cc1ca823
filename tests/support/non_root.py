"""Run a command as a non-root user on this machine, the way the Docker image runs the server
(user `app`): a root test process makes a private mount namespace (`unshare -m`), lays a
world-traversable tmpfs over directories other users may not enter (e.g. /root, which holds
pyenv's Python and the cached sandbox venv here) with only the paths the command needs bound
back read-only, then drops to an unused uid with no capabilities (`setpriv`). The host's
mounts and permissions are untouched: the namespace ends with the command."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


def require_root_tools() -> None:
    if os.getuid() != 0:
        pytest.skip("setting up a non-root run needs root (this run is not)")
    for tool in ("unshare", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (util-linux) not installed")


def _closed_ancestors(path: Path) -> list[Path]:
    """Directories on the way to `path` that other users may not traverse."""
    return [p for p in reversed(path.parents) if p != Path("/") and not p.stat().st_mode & 0o001]


def setup_script(needed: list[Path], uid: int, home: Path, env: dict[str, str]) -> str:
    """A shell script (run under `unshare -m --propagation private`) that exposes `needed`
    to `uid` and then execs its arguments as that uid."""
    lines = ["set -e", "stage=$(mktemp -d)"]
    closed: dict[Path, list[Path]] = {}
    for path in needed:
        found = _closed_ancestors(path.resolve())
        if found:
            closed.setdefault(found[0], []).append(path.resolve())
    for n, (top, paths) in enumerate(closed.items()):
        for m, path in enumerate(paths):
            lines.append(f'mkdir -p "$stage/{n}-{m}"')
            lines.append(f'mount --bind {shlex.quote(str(path))} "$stage/{n}-{m}"')
        lines.append(f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(str(top))}")
        for m, path in enumerate(paths):
            lines.append(f"mkdir -p {shlex.quote(str(path))}")
            lines.append(f'mount --bind -o ro "$stage/{n}-{m}" {shlex.quote(str(path))}')
    lines.append(f"mkdir -p {shlex.quote(str(home))} && chown {uid}:{uid} {shlex.quote(str(home))}")
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in {**env, "HOME": str(home)}.items())
    lines.append(
        f"exec setpriv --reuid={uid} --regid={uid} --clear-groups --inh-caps=-all "
        f'-- env -i {assignments} "$@"'
    )
    return "\n".join(lines) + "\n"


def run_as_non_root(
    argv: list[str], needed: list[Path], env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `argv` as an unused non-root uid, with `needed` paths (besides this venv, its
    Python and the repository) readable; its HOME and working directory are a fresh directory
    of its own in /tmp (pytest's are root's, 0700), removed afterwards."""
    uid = 60000 + os.getpid() % 5000  # no passwd entry needed; unlikely to own processes
    workdir = Path(tempfile.mkdtemp(prefix="non-root-"))
    try:
        os.chown(workdir, uid, uid)
        base = [Path(sys.prefix), Path(sys.base_prefix), Path(__file__).resolve().parents[2]]
        script = workdir / "as-non-root.sh"
        script.write_text(setup_script([*base, *needed], uid, workdir / "home", env))
        return subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", str(script), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=workdir,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
