"""The sandbox run by a non-root server, as the Docker image runs it (user `app`): bwrap makes
an unprivileged user namespace, sessions share the server's uid (no uid switching), no cgroup
can be made (the server's group is not writable) and /mnt/data cannot be a tmpfs of its own.
What still holds, on this machine, as a real non-root process (tests/support/non_root.py):
every probe of `sandbox check`, the root and /dev read-only (bwrap's own tmpfs mounts, which a
non-root session's code would otherwise own and fill past every limit), and /mnt/data's size
and file count enforced while code runs (measured every 0.5 s) and after each execution.
`sandbox check` states each degradation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from openai_assistant_mcp.engine.sandbox import SandboxSettings
from openai_assistant_mcp.engine.sandbox.bwrap import base_prefix
from tests.support.non_root import require_root_tools, run_as_non_root

COMMAND = str(Path(sys.executable).with_name("openai-assistant-mcp"))

LIMITS_PROBE = """
import asyncio, json, os, sys
from pathlib import Path
from openai_assistant_mcp.engine.sandbox import Sandbox, SandboxSettings

async def main():
    settings = SandboxSettings(exec_timeout=60, cpu_seconds=60, data_mb=8, max_files=50)
    box = Sandbox(settings, Path.cwd() / "sessions")
    out = {"uid": os.getuid()}
    try:
        big = await box.pool.execute("t1", "open('/mnt/data/big', 'wb').write(b'x' * (20 << 20))")
        data = box.pool.sessions["t1"].spec.data_dir
        out["bytes"] = [big.error, sum(f.stat().st_size for f in data.iterdir())]
        many = await box.pool.execute(
            "t2", "for i in range(200):\\n    open(f'/mnt/data/f{i}', 'w').close()"
        )
        out["files"] = [many.error, len(os.listdir(box.pool.sessions["t2"].spec.data_dir))]
        probe = (
            "import os\\nbad = []\\nfor p in ('/x', '/dev/x', '/sandbox/x', '/mnt/x'):\\n"
            "    try:\\n        open(p, 'w'); bad.append(p)\\n    except OSError:\\n        pass\\n"
            "print(bad, os.getuid())"
        )
        out["writable"] = (await box.pool.execute("t3", probe)).output
        out["alive"] = (await box.pool.execute("t1", "print('alive')")).output
        # Within one execution: 1 MiB files, each under SANDBOX_FILE_SIZE_MB, up to 300 MiB,
        # then waiting out the time-out. Measured only after the execution, all of it would
        # land on the data directory's disk and the execution would end by its time-out.
        fill = (
            "import time\\nfor i in range(300):\\n"
            "    open(f'/mnt/data/g{i}', 'wb').write(b'x' * (1 << 20))\\n"
            "while True:\\n    time.sleep(0.1)"
        )
        filling = await box.pool.execute("t4", fill)
        out["during"] = [filling.error, len(os.listdir(box.pool.sessions["t4"].spec.data_dir))]
    finally:
        await box.close()
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def paths(sandbox_settings: SandboxSettings) -> list[Path]:
    require_root_tools()
    return [sandbox_settings.venv, base_prefix(sandbox_settings.venv)]


def _env(settings: SandboxSettings) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "SANDBOX_VENV": str(settings.venv), "LANG": "C.UTF-8"}


def test_sandbox_check_holds_without_root_and_says_what_is_weaker(
    sandbox_settings: SandboxSettings, paths: list[Path]
) -> None:
    done = run_as_non_root([COMMAND, "sandbox", "check"], paths, _env(sandbox_settings))
    report = done.stdout
    assert done.returncode == 0, report + done.stderr
    assert "all probes held" in report and "FAIL" not in report
    assert "ok   read-only outside /mnt/data and /tmp" in report
    # The degradations, stated: no session cgroup, /mnt/data measured, the shared uid.
    assert "per session: none by cgroup (" in report, report
    assert "/mnt/data: measured every 0.5 s while code runs" in report, report
    assert "no uid switching without root" in report, report


def test_without_root_the_limits_that_remain_hold(
    sandbox_settings: SandboxSettings, paths: list[Path]
) -> None:
    done = run_as_non_root(
        [sys.executable, "-I", "-c", LIMITS_PROBE], paths, _env(sandbox_settings)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["uid"] != 0
    error, kept = out["bytes"]
    assert "SANDBOX_DATA_MB" in (error or ""), out
    assert kept <= 8 << 20  # what was over the limit was deleted after the execution
    error, count = out["files"]
    assert "SANDBOX_MAX_FILES" in (error or ""), out
    assert count <= 50
    bad, uid = out["writable"].rsplit(" ", 1)
    assert bad == "[]", out  # the root, /dev, /sandbox and /mnt are read-only
    assert int(uid) == out["uid"]  # no uid switching without root: the server's own uid
    assert out["alive"].endswith("alive\n")
    # Measured while the code runs: stopped on going over, not at its time-out.
    error, count = out["during"]
    assert "SANDBOX_DATA_MB" in (error or ""), out
    assert "wall-clock" not in error and "timed out" not in error, out
    assert count == 0, out  # deleted
