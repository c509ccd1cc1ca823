"""`openai-assistant-mcp sandbox setup|check`: build the sandbox's venv; prove the isolation."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import Sandbox
from .environment import setup
from .settings import SandboxSettings

CANARY = "sandbox-check-canary-3b9f"


SANDBOX_DESCRIPTION = """\
code_interpreter runs model-written Python in a bubblewrap sandbox (no network, no server files,
read-only system, rlimits), on a Python venv of its own holding numpy, pandas, matplotlib and
scipy. These commands prepare and test it; settings come from the SANDBOX_* variables below."""
SETUP_DESCRIPTION = """\
Build the sandbox's Python venv at SANDBOX_VENV with uv (from SANDBOX_PYTHON, installing
SANDBOX_PACKAGES, ~400 MB), compile its bytecode and matplotlib's font cache; logs each step.
Nothing to do when it is complete and its packages unchanged (--force rebuilds). Without it,
the first code_interpreter run builds the venv itself (SANDBOX_AUTO_SETUP), which takes a
minute or more."""
CHECK_DESCRIPTION = """\
Start a sandbox as code_interpreter would and probe its isolation: Python and its libraries
run; no network; no server files, environment or processes; read-only outside /mnt/data and
/tmp; process and memory limits; no new user namespaces. Prints one line per probe; exit 0
when every probe held. When the machine refuses user namespaces (Docker's default seccomp or
AppArmor profile) it says so in one line naming the fix."""


def add_sandbox_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings_help: str
) -> None:
    """`sandbox setup|check`; `settings_help` lists the SANDBOX_* settings (from the CLI)."""
    common: dict[str, Any] = {  # the same for the three parsers
        "formatter_class": argparse.RawDescriptionHelpFormatter,
        "argument_default": argparse.SUPPRESS,
        "epilog": f"settings (environment only):\n{settings_help}",
    }
    sandbox = commands.add_parser(
        "sandbox",
        help="code_interpreter's sandbox: `setup` builds its Python venv, `check` tests its "
        "isolation",
        description=SANDBOX_DESCRIPTION,
        **common,
    )
    actions = sandbox.add_subparsers(dest="sandbox_action", metavar="{setup,check}")
    actions.required = True
    setup_parser = actions.add_parser(
        "setup", help="build the sandbox's Python venv (uv)", description=SETUP_DESCRIPTION,
        **common,
    )  # fmt: skip
    setup_parser.add_argument(
        "--force", action="store_true", help="rebuild even if the venv is complete"
    )
    actions.add_parser(
        "check", help="probe the sandbox's isolation, one line per probe",
        description=CHECK_DESCRIPTION, **common,
    )  # fmt: skip


def run_sandbox_command(args: argparse.Namespace) -> int:
    """Exit status of `sandbox setup` / `sandbox check` (settings from SANDBOX_* variables)."""
    settings = SandboxSettings()
    if args.sandbox_action == "setup":
        try:
            setup(settings, print, force=getattr(args, "force", False))
        except (RuntimeError, OSError) as error:
            print(f"sandbox setup failed: {error}", file=sys.stderr)
            return 1
        print(f"sandbox venv ready: {settings.venv}")
        return 0
    return asyncio.run(check(settings))


# Each probe: (what it shows, code, a predicate on the output that says it held).
def _probes(
    host_secret: Path, port: int, settings: SandboxSettings
) -> list[tuple[str, str, Callable[[str], bool]]]:
    # Host paths that must not exist inside: the secret, and the home's entries the sandbox
    # does not need (the venv and its Python may live under the home; those are bound).
    needed = (str(settings.venv), settings.base_python)
    home = [str(p) for p in Path.home().iterdir() if not any(n.startswith(str(p)) for n in needed)]
    hidden = [str(host_secret), *home[:20]]
    return [
        (
            "python runs, numpy/pandas/matplotlib import",
            "import numpy, pandas, matplotlib; print(int(numpy.arange(5).sum()))",
            lambda out: out.strip() == "10",
        ),
        (
            "no network (a loopback port the server opened is unreachable)",
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), 2)\n"
            "    print('reached')\nexcept OSError:\n    print('refused')",
            lambda out: out.strip() == "refused",
        ),
        (
            "no server files (data dir, secret key, home)",
            f"import os\nprint([p for p in {hidden!r} if os.path.lexists(p)])",
            lambda out: out.strip() == "[]",
        ),
        (
            "no server environment or processes",
            f"import os\nprint({CANARY!r} in str(os.environ), "
            f"os.path.exists('/proc/{os.getpid()}'))",
            lambda out: out.strip() == "False False",
        ),
        (
            "read-only outside /mnt/data and /tmp",
            "bad = []\nfor p in ('/x', '/usr/x', '/sandbox/x', '/dev/x', '/mnt/x'):\n    try:\n"
            "        open(p, 'w'); bad.append(p)\n    except OSError:\n        pass\nprint(bad)",
            lambda out: out.strip() == "[]",
        ),
        (
            "process limit (fork bomb contained)",
            "import os\ntry:\n    while True:\n        os.fork()\n"
            "except OSError:\n    print('limited')",
            lambda out: "limited" in out,
        ),
        (
            "no new user namespaces (unshare -U refused)",
            "import subprocess\n"
            "print(subprocess.run(['unshare', '-Ur', 'true'], capture_output=True).returncode)",
            lambda out: out.strip() == "1",
        ),
        (
            "memory limit (10 GB allocation refused)",
            "try:\n    b = bytearray(10 * 1024**3)\nexcept MemoryError:\n    print('limited')",
            lambda out: out.strip() == "limited",
        ),
    ]


async def check(settings: SandboxSettings) -> int:
    """Run the self-test; print what is isolated; 0 when every probe held."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        host_secret = root / "secret.key"
        host_secret.write_text(CANARY)
        os.environ["SANDBOX_CHECK_CANARY"] = CANARY  # must not reach the sandbox
        sandbox = Sandbox(settings, root / "sessions")
        if reason := await sandbox.unavailable():
            print(f"sandbox unavailable: {reason}")
            return 1
        print(f"backend: {sandbox.backend.name}; venv: {settings.venv}")
        for line in sandbox.backend.isolation():
            print(f"  {line}")
        failures = 0
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            try:
                for name, code, held in _probes(host_secret, listener.getsockname()[1], settings):
                    result = await sandbox.pool.execute("check", code)
                    ok = held(result.output) and not result.error
                    failures += not ok
                    detail = "" if ok else f": {result.logs()[:300]!r}"
                    print(f"{'ok  ' if ok else 'FAIL'} {name}{detail}")
            finally:
                await sandbox.close()
        print("all probes held" if not failures else f"{failures} probe(s) FAILED")
        return 1 if failures else 0
