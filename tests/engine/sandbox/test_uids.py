"""Host-wide sandbox uids: two live sessions never share one, whichever engine process started
them, and a uid is given again only once nothing of its earlier session runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from openai_assistant_mcp.engine.sandbox import Sandbox, SandboxSettings

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


async def test_a_reused_uid_has_no_process_left(
    sandbox_settings: SandboxSettings, tmp_path: Path
) -> None:
    # A process of the uid an earlier session had (e.g. its engine was killed): it must be gone
    # before the uid runs anyone else's code. A base of its own keeps other tests' uids apart.
    uid = 260000 + os.getpid() % 10000 * 4
    settings = sandbox_settings.model_copy(update={"uid_base": uid, "max_sessions": 1})

    def become() -> None:
        os.setgid(uid)
        os.setuid(uid)

    leftover = subprocess.Popen(["sleep", "600"], preexec_fn=become)
    box = Sandbox(settings, tmp_path)
    try:
        result = await box.pool.execute("t1", "import os\nos.getuid()")
        assert result.logs() == str(uid)
        with open(f"/proc/{leftover.pid}/status") as status:  # reaped by us below: a zombie
            state = next(line for line in status if line.startswith("State:"))
        assert "zombie" in state, state
    finally:
        leftover.kill()
        leftover.wait()
        await box.close()
