"""The sandbox's own Python: a venv (made with uv) holding the libraries model code expects."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .settings import SandboxSettings

logger = logging.getLogger(__name__)
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


def _log_progress(line: str) -> None:
    logger.info("sandbox venv: %s", line)


def setup(
    settings: SandboxSettings, log: Callable[[str], object] = _log_progress, force: bool = False
) -> None:
    """Create or update the venv with `uv`, then build matplotlib's font cache into it. Each
    step (and uv's own progress lines) goes to `log`: by default the server's log, so a first
    code_interpreter run that builds the venv (a minute or more) says what it is doing."""
    started = time.monotonic()
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
    size = " (the default packages: ~400 MB, a minute or more)" if len(packages) > 1 else ""
    log(f"building {venv} ({' '.join(packages)}){size}")
    if not (venv / "bin" / "python").exists():
        log(f"creating {venv} from {settings.base_python}")
        _run([uv, "venv", "--python", settings.base_python, str(venv)], env)
    log(f"installing {' '.join(packages)}")
    _run([uv, "pip", "install", "--python", str(venv / "bin" / "python"), *packages], env, log)
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
    log(f"ready in {time.monotonic() - started:.0f} s")


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


# uv's lines worth passing on as progress (its per-package "+ name==version" lines are not).
_PROGRESS = ("Resolved", "Prepared", "Installed", "Uninstalled", "Audited", "Downloading")


def _run(argv: list[str], env: dict[str, str], log: Callable[[str], object] | None = None) -> None:
    """Run `argv`; with `log`, uv's progress lines are passed on as they come."""
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    tail: list[str] = []
    for line in process.stdout:
        tail = [*tail[-40:], line]
        if log is not None and line.strip().startswith(_PROGRESS):
            log(line.strip())
    if process.wait() != 0:
        raise RuntimeError(f"{argv[0]} failed: {''.join(tail).strip()[-2000:]}")
