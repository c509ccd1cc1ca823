"""Host-wide sandbox uids: two live sessions never share one, whichever engine process started
them, and a uid is given again only once nothing of its earlier session runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from openai_assistant_mcp.engine.sandbox import Sandbox, SandboxSettings
from openai_assistant_mcp.engine.sandbox.uids import claim_uid

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="per-session uids need a root server")


async def test_two_engine_processes_never_hand_out_the_same_uid(
    sandbox_settings: SandboxSettings, tmp_path: Path
) -> None:
    # Two pools with their own session directories, as two engine processes on one host have.
    first, second = (Sandbox(sandbox_settings, tmp_path / name) for name in ("a", "b"))
    try:
        keys = [f"t{i}" for i in range(sandbox_settings.max_sessions)]
        results = await asyncio.gather(
            *(
                box.pool.execute(key, "import os\nos.getuid()")
                for box in (first, second)
                for key in keys
            )
        )
        in_sandbox = [int(result.logs()) for result in results]
        assert len(set(in_sandbox)) == 2 * len(keys), in_sandbox
        on_host = [s.spec.uid for box in (first, second) for s in box.pool.sessions.values()]
        assert sorted(on_host) == sorted(in_sandbox)
    finally:
        await first.close()
        await second.close()


def run_as(uid: int, argv: list[str]) -> subprocess.Popen[bytes]:
    def become() -> None:
        os.setgid(uid)
        os.setuid(uid)

    return subprocess.Popen(argv, preexec_fn=become)


def state_of(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(line for line in status if line.startswith("State:"))


async def test_a_reused_uid_has_no_process_left(
    sandbox_settings: SandboxSettings, tmp_path: Path
) -> None:
    # An engine whose session had this uid died (its claim dropped by the kernel, not
    # released) and left a process of the uid: it must be gone before the uid runs anyone
    # else's code. A base of its own keeps other tests' uids apart.
    uid = 260000 + os.getpid() % 10000 * 4
    settings = sandbox_settings.model_copy(update={"uid_base": uid, "max_sessions": 1})
    crashed = claim_uid(uid)
    assert crashed.uid == uid
    leftover = run_as(uid, ["sleep", "600"])
    os.close(crashed.fd)  # what the kernel does when the engine dies
    box = Sandbox(settings, tmp_path)
    try:
        result = await box.pool.execute("t1", "import os\nos.getuid()")
        assert result.logs() == str(uid)
        assert "zombie" in state_of(leftover.pid)  # killed; reaped by us below
    finally:
        leftover.kill()
        leftover.wait()
        await box.close()
