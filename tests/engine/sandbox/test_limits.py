"""Per-session limits on the real sandbox: memory for all of a session's processes and its
tmpfs mounts together, disk and file count in /mnt/data; a session over a limit is told which,
and every other session keeps working."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openai_assistant_mcp.engine.sandbox import Sandbox, SandboxSettings
from openai_assistant_mcp.engine.sandbox.cgroups import detect

needs_cgroup = pytest.mark.skipif(
    isinstance(detect(), str), reason=f"no cgroup for sessions here: {detect()}"
)

FORKED_CHILDREN_ALLOCATE = """
import os, time
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (450 << 20)  # written, so resident: each child is under the rlimit
        time.sleep(1)
        os._exit(0)
    children.append(pid)
print([os.waitpid(pid, 0)[1] for pid in children])
"""


@pytest.fixture
async def patient(sandbox_settings: SandboxSettings, tmp_path: Path) -> AsyncIterator[Sandbox]:
    """Time limits a machine reclaiming memory under the limit stays within."""
    settings = sandbox_settings.model_copy(update={"exec_timeout": 120, "cpu_seconds": 120})
    box = Sandbox(settings, tmp_path / "sessions")
    yield box
    await box.close()


@needs_cgroup
async def test_forked_children_share_the_session_memory_limit(patient: Sandbox) -> None:
    sandbox = patient
    # 3 x 450 MiB, each under the 1024 MiB per-process limit, together over the session's.
    result = await sandbox.pool.execute("t1", FORKED_CHILDREN_ALLOCATE)
    assert "SANDBOX_MEMORY_MB" in (result.error or ""), result.logs()
    assert "9" in result.output  # a child ended by SIGKILL (status 9)
    assert (await sandbox.pool.execute("other", "print('fine')")).output == "fine\n"
    assert (await sandbox.pool.execute("t1", "print('alive')")).output.endswith("alive\n")


@needs_cgroup
async def test_tmp_and_shm_count_against_the_session_memory(patient: Sandbox) -> None:
    sandbox = patient
    fill = (
        "chunk = b'x' * (1 << 20)\n"
        "for path, mib in (('/tmp/a', 225), ('/tmp/b', 225), ('/dev/shm/c', 60)):\n"
        "    with open(path, 'wb') as out:\n"
        "        for _ in range(mib):\n"
        "            out.write(chunk)\n"
        "print('kept')"
    )
    filled = await sandbox.pool.execute("t1", fill)
    assert filled.output == "kept\n", filled.logs()
    # 600 MiB in the interpreter is under its 1024 MiB rlimit, not beside 510 MiB of tmpfs.
    result = await sandbox.pool.execute("t1", "block = b'x' * (600 << 20)\nprint('allocated')")
    assert "allocated" not in result.output
    assert "SANDBOX_MEMORY_MB" in (result.error or ""), result.logs()
    assert (await sandbox.pool.execute("t1", "print('alive')")).output.endswith("alive\n")


@pytest.fixture
async def small_disk(sandbox_settings: SandboxSettings, tmp_path: Path) -> AsyncIterator[Sandbox]:
    settings = sandbox_settings.model_copy(update={"data_mb": 8, "max_files": 50})
    box = Sandbox(settings, tmp_path / "sessions")
    yield box
    await box.close()


async def test_mnt_data_is_bounded_in_bytes(small_disk: Sandbox, tmp_path: Path) -> None:
    code = "open('/mnt/data/big', 'wb').write(b'x' * (20 << 20))"
    result = await small_disk.pool.execute("t1", code)
    assert "SANDBOX_DATA_MB" in (result.error or ""), result.logs()
    assert "No space left on device" in result.logs() or "deleted" in result.logs()
    data_dir = small_disk.pool.sessions["t1"].spec.data_dir
    assert sum(f.stat().st_size for f in data_dir.iterdir()) <= 8 << 20
    assert (await small_disk.pool.execute("other", "print('fine')")).output == "fine\n"


async def test_mnt_data_is_bounded_in_files(small_disk: Sandbox) -> None:
    code = "for i in range(200):\n    open(f'/mnt/data/f{i}', 'w').close()"
    result = await small_disk.pool.execute("t1", code)
    assert "SANDBOX_MAX_FILES" in (result.error or ""), result.logs()
    assert len(os.listdir(small_disk.pool.sessions["t1"].spec.data_dir)) <= 50
    assert (await small_disk.pool.execute("t1", "print('alive')")).output.endswith("alive\n")


SPIN_IN_TWO_CHILDREN = """
import os, time
children = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        while time.process_time() < 0.8:  # each child under the per-process limit
            pass
        os._exit(0)
    children.append(pid)
print([os.waitpid(pid, 0)[1] for pid in children])
"""


@needs_cgroup
async def test_the_session_cpu_limit_counts_every_process(
    sandbox_settings: SandboxSettings, tmp_path: Path
) -> None:
    settings = sandbox_settings.model_copy(
        update={"session_cpu_seconds": 1, "exec_timeout": 120, "cpu_seconds": 120}
    )
    box = Sandbox(settings, tmp_path / "sessions")
    try:
        result = await box.pool.execute("t1", SPIN_IN_TWO_CHILDREN)
        assert result.output == "[0, 0]\n"  # neither child was stopped by its own limit
        assert "SANDBOX_SESSION_CPU_SECONDS" in (result.error or ""), result.logs()
        after = await box.pool.execute("t1", "print('fresh')")
        assert after.output == "fresh\n" and "restarted" in (after.note or "")
    finally:
        await box.close()
