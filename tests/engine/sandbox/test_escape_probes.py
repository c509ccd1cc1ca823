"""Escape and abuse probes on the real sandbox: each is contained, the server process is
unaffected, and the session's next execution works."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from openai_assistant_mcp.engine.sandbox import Sandbox, SandboxSettings

SECRET = "sk-probe-7f3c9a1e-never-inside"


async def works_after(sandbox: Sandbox, key: str = "t1") -> None:
    assert (await sandbox.pool.execute(key, "print('alive')")).output == "alive\n"


async def test_no_network_to_a_loopback_port(sandbox: Sandbox) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    print('CONNECTED')\nexcept OSError as e:\n    print(type(e).__name__)\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
            "    print('CONNECTED')\nexcept OSError as e:\n    print(type(e).__name__)"
        )
        result = await sandbox.pool.execute("t1", code)
        assert "CONNECTED" not in result.output
        assert result.output.splitlines()[0] == "ConnectionRefusedError"
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing ever reached the test's port
    await works_after(sandbox)


async def test_server_files_environment_and_processes_are_invisible(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A data dir like the server's: the store and the secret key sit next to the sessions.
    (tmp_path / "assistants.db").write_text(SECRET)
    (tmp_path / "secret.key").write_text(SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server_pid = os.getpid()
    paths = [
        tmp_path / "assistants.db",
        tmp_path / "secret.key",
        Path.home() / ".bashrc",
        f"/proc/{server_pid}/environ",
        f"/proc/{server_pid}/cmdline",
        "/proc/1/environ",
        "/etc/passwd",
    ]
    code = (
        "import os\nfound = []\n"
        f"for p in {[str(p) for p in paths]!r}:\n"
        "    try:\n        found.append(p + ': ' + open(p).read()[:80])\n"
        "    except OSError as e:\n        pass\n"
        "print('READ', found)\nprint('ENV', dict(os.environ))\n"
        "print('PIDS', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        "print('ROOT', sorted(os.listdir('/')))"
    )
    result = await sandbox.pool.execute("t1", code)
    assert SECRET not in result.logs()
    lines = dict(line.split(" ", 1) for line in result.output.splitlines())
    assert lines["READ"] == "[]"
    assert "KEY" not in lines["ENV"] and "DATA_DIR" not in lines["ENV"]
    assert str(server_pid) not in lines["PIDS"].strip("[]").split(", ")
    assert lines["ROOT"] == str(
        sorted(
            ["bin", "dev", "lib", "lib64", "mnt", "proc", "root", "sandbox", "sbin", "tmp", "usr"]
        )
    )
    await works_after(sandbox)


async def test_writes_outside_mnt_data_and_tmp_fail(sandbox: Sandbox) -> None:
    targets = ["/x", "/usr/x", "/sandbox/driver.py", "/root/x", "/proc/sys/kernel/hostname", "/etc"]
    code = (
        "import os, sys\nwritten = []\n"
        f"for p in {targets!r} + [os.path.dirname(sys.executable) + '/x']:\n"
        "    try:\n        open(p, 'w').write('x'); written.append(p)\n"
        "    except OSError:\n        pass\n"
        "open('/mnt/data/ok', 'w').write('x'); open('/tmp/ok', 'w').write('x')\nprint(written)"
    )
    assert (await sandbox.pool.execute("t1", code)).logs() == "[]"
    await works_after(sandbox)


async def test_fork_bomb_is_contained(sandbox: Sandbox) -> None:
    result = await sandbox.pool.execute("t1", "import os\nwhile True:\n    os.fork()")
    assert "BlockingIOError" in result.logs() or "Resource temporarily unavailable" in result.logs()
    count = "import os\nprint(sum(p.isdigit() for p in os.listdir('/proc')))"
    # bwrap's init, the driver's supervisor and the interpreter: nothing of the bomb is left.
    assert (await sandbox.pool.execute("t1", count)).output == "3\n"
    await works_after(sandbox)


async def test_ten_gigabytes_is_a_memory_error(sandbox: Sandbox) -> None:
    result = await sandbox.pool.execute("t1", "kept = 1\nblob = bytearray(10 * 1024**3)")
    assert "MemoryError" in result.logs()
    numpy = await sandbox.pool.execute("t1", "import numpy as np\nnp.ones(10 * 1024**3 // 8)")
    assert "MemoryError" in numpy.logs() or "Unable to allocate" in numpy.logs()
    assert (await sandbox.pool.execute("t1", "kept")).logs() == "1"


async def test_infinite_loop_stops_at_the_time_limit(sandbox: Sandbox) -> None:
    result = await sandbox.pool.execute("t1", "kept = 2\nwhile True:\n    pass")
    assert "time limit" in result.logs()
    assert (await sandbox.pool.execute("t1", "kept")).logs() == "2"  # the session survived


async def test_loop_ignoring_signals_is_killed_and_restarts(sandbox: Sandbox) -> None:
    code = (
        "import signal\nfor s in (signal.SIGALRM, signal.SIGXCPU):\n"
        "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass"
    )
    result = await sandbox.pool.execute("t1", code)
    assert "timed out" in result.logs()
    after = await sandbox.pool.execute("t1", "print('alive')")
    assert after.output == "alive\n" and "restarted" in (after.note or "")


async def test_hundred_megabytes_of_output_is_capped(sandbox: Sandbox) -> None:
    code = (
        "import os, sys\nprint('x' * 50_000_000)\nsys.stderr.write('y' * 20_000_000)\n"
        "os.write(1, b'z' * 30_000_000)"
    )
    result = await sandbox.pool.execute("t1", code)
    assert len(result.output) <= 2000 and result.truncated >= 90_000_000
    await works_after(sandbox)


async def test_killing_the_parent_is_refused(sandbox: Sandbox) -> None:
    code = (
        "import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n"
        "        os.kill(pid, signal.SIGKILL); print('killed', pid)\n"
        "    except OSError as e:\n        print(type(e).__name__)"
    )
    result = await sandbox.pool.execute("t1", code)
    assert result.output == "PermissionError\nPermissionError\n"
    await works_after(sandbox)


async def test_another_threads_files_are_invisible(sandbox: Sandbox) -> None:
    await sandbox.pool.execute("a", f"open('/mnt/data/mine.txt', 'w').write({SECRET!r})")
    other = sandbox.pool.sessions["a"].spec.data_dir
    code = (
        "import os\nseen = []\nfor top in ('/mnt', '/tmp', '/root', '/sandbox'):\n"
        "    for d, _, files in os.walk(top):\n        seen += files\n"
        f"try:\n    os.listdir({str(other)!r}); seen.append('listed')\nexcept OSError:\n    pass\n"
        "print(sorted(set(seen)))"
    )
    result = await sandbox.pool.execute("b", code)
    assert "mine.txt" not in result.output and "listed" not in result.output
    await works_after(sandbox, "a")


async def test_symlinks_in_mnt_data_do_not_reach_the_host(sandbox: Sandbox, tmp_path: Path) -> None:
    host_file = tmp_path / "host-secret.txt"
    host_file.write_text(SECRET)
    code = f"import os\nos.symlink({str(host_file)!r}, '/mnt/data/link.txt')"
    await sandbox.pool.execute("t1", code)
    assert await sandbox.pool.read_file("t1", "link.txt", 10_000) is None
    await sandbox.pool.put_file("t1", "link.txt", b"replaced")
    assert host_file.read_text() == SECRET  # the server replaced the link, not the host file
    assert (await sandbox.pool.execute("t1", "open('/mnt/data/link.txt').read()")).logs() == (
        "'replaced'"
    )


async def test_no_bwrap_on_path_names_what_to_install(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = await sandbox.unavailable()
    assert reason is not None and "bubblewrap" in reason and "apt-get install" in reason


async def test_new_user_namespaces_are_refused(sandbox: Sandbox) -> None:
    code = (
        "import subprocess\n"
        "done = subprocess.run(['unshare', '-Ur', 'id'], capture_output=True, text=True)\n"
        "print(done.returncode, done.stderr.strip())"
    )
    result = await sandbox.pool.execute("t1", code)
    assert result.output.startswith("1 ") and "Operation not permitted" in result.output
    await works_after(sandbox)


async def test_threads_processes_and_shared_memory_still_work(sandbox: Sandbox) -> None:
    code = (
        "import threading, multiprocessing as mp\n"
        "seen = []\nt = threading.Thread(target=seen.append, args=(1,))\nt.start(); t.join()\n"
        "with mp.Pool(2) as pool:\n    print(seen, pool.map(abs, [-1, -2]))"
    )
    assert (await sandbox.pool.execute("t1", code)).logs() == "[1] [1, 2]"


async def test_no_venv_names_the_setup_command(
    sandbox_settings: SandboxSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = sandbox_settings.model_copy(update={"venv": tmp_path / "none", "auto_setup": False})
    reason = await Sandbox(missing, tmp_path / "s").unavailable()
    assert reason is not None and "openai-assistant-mcp sandbox setup" in reason
    # Set up on first use, but without uv to do it: the reason says both.
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    if shutil.which("uv") is not None:
        pytest.skip("uv is installed system-wide here")
    automatic = missing.model_copy(update={"auto_setup": True})
    reason = await Sandbox(automatic, tmp_path / "s").unavailable()
    assert reason is not None and "sandbox setup" in reason and "`uv` is not on PATH" in reason
    assert not (tmp_path / "none").exists()


KEYRING_AND_IO_URING = """
import ctypes, platform
libc = ctypes.CDLL(None, use_errno=True)
add_key, keyctl, io_uring_setup = {"x86_64": (248, 250, 425), "aarch64": (217, 219, 425)}[
    platform.machine()]
calls = {
    "add_key": (add_key, b"user", b"probe", b"left-behind", 11, -4),  # the user keyring
    "keyctl": (keyctl, 0, -4, 0),  # KEYCTL_GET_KEYRING_ID of the user keyring
    "io_uring_setup": (io_uring_setup, 1, ctypes.create_string_buffer(120)),
}
for name, args in calls.items():
    ctypes.set_errno(0)
    print(name, libc.syscall(*args), ctypes.get_errno())
"""


async def test_keyrings_and_io_uring_are_refused(sandbox: Sandbox) -> None:
    """A key stored in the uid's keyring outlived the session and was read by the next one."""
    result = await sandbox.pool.execute("t1", KEYRING_AND_IO_URING)
    assert result.error is None, result.logs()
    assert result.output.splitlines() == [
        "add_key -1 1",  # EPERM
        "keyctl -1 1",
        "io_uring_setup -1 38",  # ENOSYS: libraries fall back to ordinary syscalls
    ]
    await works_after(sandbox)


NETLINK = """
import socket
found = []
for protocol in (0, 4, 9, 15, 16):  # route, sock_diag, audit, kobject_uevent, generic
    try:
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol).close()
        found.append("open")
    except OSError as error:
        found.append(error.errno)
print(found)
# What ordinary code uses still works without netlink.
print(socket.getaddrinfo("127.0.0.1", 80, flags=socket.AI_ADDRCONFIG)[0][4])
left, right = socket.socketpair()
left.send(b"x")
with socket.socket() as server:
    server.bind(("127.0.0.1", 0))
    print(right.recv(1), server.getsockname()[0])
"""


async def test_netlink_sockets_are_refused(sandbox: Sandbox) -> None:
    """They showed only the session's own loopback (its network namespace), but are kernel
    surface nothing the code needs: refused with EAFNOSUPPORT (97)."""
    result = await sandbox.pool.execute("t1", NETLINK)
    assert result.error is None, result.logs()
    assert result.output.splitlines() == [
        "[97, 97, 97, 97, 97]",
        "('127.0.0.1', 80)",
        "b'x' 127.0.0.1",
    ]
    await works_after(sandbox)
