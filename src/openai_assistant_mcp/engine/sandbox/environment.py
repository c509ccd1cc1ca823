"""The sandbox's own Python: a venv (made with uv) holding the libraries model code expects."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .settings import SandboxSettings

READY_MARKER = ".sandbox-ready"  # written last by setup: its packages are complete


def venv_missing(settings: SandboxSettings) -> str | None:
    """Why the sandbox venv cannot be used yet, else None."""
    if _ready(settings):
        return None
    return (
        f"the sandbox's Python environment is not set up at {settings.venv}: run "
        "`openai-assistant-mcp sandbox setup` (needs uv)"
    )


def _ready(settings: SandboxSettings) -> bool:
    return (settings.venv / READY_MARKER).is_file() and (settings.venv / "bin" / "python").exists()


def setup(
    settings: SandboxSettings, log: Callable[[str], object] = print, force: bool = False
) -> None:
    """Create or update the venv with `uv`, then build matplotlib's font cache into it."""
    packages = settings.packages.split()
    marker = settings.venv / READY_MARKER
    if not force and _ready(settings) and marker.read_text().split() == packages:
        log(f"{settings.venv} is up to date ({' '.join(packages)})")
        return
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("`uv` is not on PATH: install it (`pip install uv`) and retry")
    venv = settings.venv
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_KEY", "_SECRET", "_TOKEN"))}
    env.pop("VIRTUAL_ENV", None)
    if not (venv / "bin" / "python").exists():
        log(f"creating {venv} from {settings.base_python}")
        _run([uv, "venv", "--python", settings.base_python, str(venv)], env)
    log(f"installing {' '.join(packages)}")
    _run([uv, "pip", "install", "--python", str(venv / "bin" / "python"), *packages], env)
    # Bytecode now: the sandbox sees the venv read-only, so imports could never cache it.
    log("compiling bytecode")
    python = str(venv / "bin" / "python")
    _run([python, "-m", "compileall", "-q", "-j", "0", str(_site_packages(venv))], env)
    mplconfig = venv / "share" / "mplconfig"
    mplconfig.mkdir(parents=True, exist_ok=True)
    if "matplotlib" in packages:
        log("building matplotlib's font cache")
        env = {**env, "MPLCONFIGDIR": str(mplconfig), "MPLBACKEND": "Agg"}
        _run([str(venv / "bin" / "python"), "-c", "import matplotlib.font_manager"], env)
    # World-readable: the sandbox's unprivileged uid reads it through read-only binds.
    for path in [venv, *venv.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
    marker.write_text(" ".join(packages) + "\n")


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
