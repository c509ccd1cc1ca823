"""code_interpreter on a machine that refuses bubblewrap its namespaces (issue 24), as Docker's
default seccomp profile does to a container without CAP_SYS_ADMIN: the server runs under a
seccomp filter refusing exactly what that profile refuses bubblewrap (clone with namespace
flags, unshare, mount, pivot_root). `sandbox check`, the run's last_error and the start-up log
each say so in one line naming the fix, instead of blaming the sandbox's memory limits."""

from __future__ import annotations

import errno
import os
import platform
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from openai_assistant_mcp.engine.sandbox.seccomp import (
    ALLOW,
    ARCHES,
    ARG0,
    ERRNO,
    JEQ,
    JSET,
    LD_ABS,
    NR,
    RET,
    _op,
)
from tests.mcp.servers import COMMAND, server_env
from tests.mcp.workflow import call
from tests.support.scripted_provider import RunCode, ScriptedProvider

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None or platform.machine() not in ARCHES,
    reason="needs bubblewrap on x86_64 or aarch64",
)
# The namespace flags Docker's default profile refuses clone (CLONE_NEWNS ... CLONE_NEWNET).
CLONE_NAMESPACES = 0x7E020000
MOUNT_AND_PIVOT = {"x86_64": (165, 155), "aarch64": (40, 41)}  # mount, pivot_root


def docker_default_for_bubblewrap() -> bytes:
    """A seccomp filter refusing what Docker's default profile refuses bubblewrap."""
    audit_arch, unshare, clone, clone3, _socket = ARCHES[platform.machine()]
    mount, pivot_root = MOUNT_AND_PIVOT[platform.machine()]
    program = [_op(LD_ABS, 4), _op(JEQ, audit_arch, 1, 0), _op(RET, ALLOW), _op(LD_ABS, NR)]
    for nr in (unshare, mount, pivot_root):
        program += [_op(JEQ, nr, 0, 1), _op(RET, ERRNO | errno.EPERM)]
    program += [_op(JEQ, clone3, 0, 1), _op(RET, ERRNO | errno.ENOSYS)]
    program += [_op(JEQ, clone, 0, 3), _op(LD_ABS, ARG0), _op(JSET, CLONE_NAMESPACES, 0, 1)]
    program += [_op(RET, ERRNO | errno.EPERM), _op(RET, ALLOW)]
    return b"".join(program)


@contextmanager
def refusing_namespaces() -> Iterator[list[str]]:
    """The argv prefix running a command under that filter (bwrap applies it, then execs)."""
    fd = os.memfd_create("docker-default")
    os.write(fd, docker_default_for_bubblewrap())
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        yield ["bwrap", "--dev-bind", "/", "/", "--seccomp", str(fd), "--"]
    finally:
        os.close(fd)


def _fd_of(prefix: list[str]) -> int:
    return int(prefix[prefix.index("--seccomp") + 1])


def _says_the_fix(line: str) -> None:
    assert "refuses bubblewrap the namespaces code_interpreter needs" in line, line
    assert "seccomp=./deploy/seccomp-bubblewrap.json" in line and "SANDBOX_BACKEND" in line
    assert "memory" not in line


def test_sandbox_check_says_namespaces_are_refused_in_one_line(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data")
    with refusing_namespaces() as prefix:
        done = subprocess.run(
            [*prefix, COMMAND, "sandbox", "check"], env=env, capture_output=True, text=True,
            timeout=300, pass_fds=(_fd_of(prefix),),
        )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    assert lines[0].startswith("sandbox unavailable: ")
    _says_the_fix(lines[0])


async def test_a_run_and_the_start_up_log_say_namespaces_are_refused(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.forever(RunCode())
    env = server_env(tmp_path / "data", model_provider.base_url, OPENAI_API_KEY="sk-refused-1")
    log_path = tmp_path / "stderr.log"
    # The filter from a file on fd 9 (the SDK's spawn passes no other descriptor).
    (tmp_path / "filter.bpf").write_bytes(docker_default_for_bubblewrap())
    script = f'exec 9<"$0"; exec bwrap --dev-bind / / --seccomp 9 -- {COMMAND}'
    params = StdioServerParameters(
        command="sh", args=["-c", script, str(tmp_path / "filter.bpf")], env=env
    )
    with anyio.fail_after(300), log_path.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            assistant = await call(
                client, "create_assistant",
                {"model": "m", "tools": [{"type": "code_interpreter"}]},
            )  # fmt: skip
            ran = await call(
                client, "create_thread_and_run",
                {"assistant_id": assistant["id"],
                 "thread": {"messages": [{"role": "user", "content": "print(1)"}]}},
            )  # fmt: skip
    run = ran["run"]
    assert run["status"] == "failed"
    assert run["last_error"]["code"] == "server_error"
    assert run["last_error"]["message"].startswith("The code_interpreter tool is unavailable: ")
    _says_the_fix(run["last_error"]["message"])
    warnings = [line for line in log_path.read_text().splitlines() if "will fail" in line]
    (start,) = [line for line in warnings if "code_interpreter will fail" in line]
    _says_the_fix(start)
