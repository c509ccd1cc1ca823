"""The bubblewrap backend: each session is a `bwrap` process with its own namespaces.

Mounted: /usr (read-only), the sandbox venv and its base Python's prefix (read-only, at their
own paths), the driver (read-only), a fresh /proc and /dev, a private tmpfs /tmp, and the
session's directory as /mnt/data. Nothing else of the host: no home, no data dir, no /etc.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
from pathlib import Path, PurePosixPath

from .backend import SessionSpec
from .cgroups import detect as detect_cgroups
from .namespaces import namespaces_refused
from .seccomp import sandbox_filter
from .settings import SandboxSettings

DRIVER = Path(__file__).with_name("driver.py")
DRIVER_IN_SANDBOX = "/sandbox/driver.py"
KERNEL = Path(__file__).with_name("kernel.py")  # imported by the driver from beside it
# Large enough for an answer carrying a few PNG figures (each capped at 5 MiB by the driver).
PROTOCOL_LINE_LIMIT = 64 << 20


def base_prefix(venv: Path) -> Path:
    """The installation the venv's python comes from (bin/python -> <prefix>/bin/python3.x)."""
    return Path(os.path.realpath(venv / "bin" / "python")).parent.parent


def _ancestors(paths: list[str]) -> list[str]:
    """Directories to create (mode 0755) so bind targets are reachable by an unprivileged uid."""
    needed = set()
    for path in paths:
        for parent in PurePosixPath(path).parents:
            if str(parent) != "/":
                needed.add(str(parent))
    return sorted(needed, key=lambda p: (p.count("/"), p))


class BwrapBackend:
    name = "bwrap"

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings

    def unavailable(self) -> str | None:
        if shutil.which("bwrap") is None:
            return (
                "code_interpreter needs bubblewrap, which is not installed: install the "
                "'bubblewrap' package (e.g. `apt-get install bubblewrap`), then retry"
            )
        return namespaces_refused()  # Docker's default profiles: one line naming the fix

    def isolation(self) -> list[str]:
        s = self.settings
        host = detect_cgroups()
        together = (
            f"{s.memory_mb} MiB of memory for all its processes, /tmp and /dev/shm together, "
            f"{s.max_processes} processes and threads, {s.session_cpu_seconds} s of CPU"
        )
        if isinstance(host, str):
            session = f"per session: none by cgroup ({host}); per process instead"
        else:
            session = f"per session, by {host.describe()}: {together}"
        root = os.getuid() == 0
        data = (
            f"tmpfs of {s.data_mb} MiB and {s.max_files} files"
            if root
            else f"measured every 0.5 s while code runs and after each execution "
            f"(≤ {s.data_mb} MiB, {s.max_files} files; no tmpfs without root)"
        )
        user = (
            "runs as a uid of its own per session, with no capabilities"
            if root
            else "runs as the server's own uid in a user namespace, the same for every "
            "session (no uid switching without root), with no capabilities"
        )
        return [
            "namespaces: own PID, network (loopback only, no route out), IPC, UTS, mounts",
            "filesystem: /, /usr, /dev, the sandbox venv and its Python read-only; private /tmp "
            f"({s.tmp_mb} MiB) and /mnt/data; no home, data dir, store, secret key or /etc",
            f"environment: cleared (no keys); {user}",
            "syscalls: user namespaces, keyrings, io_uring and netlink sockets refused (seccomp)",
            f"limits: {s.memory_mb} MiB address space, {s.cpu_seconds} s CPU and "
            f"{s.exec_timeout:g} s wall clock per execution, {s.max_processes} processes, "
            f"{s.file_size_mb} MiB per file, {s.open_files} open files, "
            f"{s.output_chars} output characters",
            session,
            f"/mnt/data: {data}; /tmp: tmpfs of {s.tmp_mb} MiB; /dev/shm: tmpfs of 64 MiB",
        ]

    def argv(self, spec: SessionSpec, seccomp_fd: int | None = None) -> list[str]:
        venv = str(self.settings.venv)
        prefix = str(base_prefix(self.settings.venv))
        binds = [p for p in (prefix, venv) if not p.startswith("/usr/")]
        argv = ["bwrap", "--die-with-parent", "--new-session", "--clearenv"]
        argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        argv += ["--unshare-cgroup-try", "--hostname", "sandbox"]
        if os.getuid() == 0:
            # Privileged bwrap (no user namespace, so the kernel's process limit applies to the
            # session's own uid); the driver drops to that uid, keeping no capabilities.
            # CAP_KILL: the driver's supervisor stays uid 0 (out of the code's reach) and stops
            # or kills the session's processes between cells (only those: own PID namespace).
            argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            argv += ["--cap-add", "CAP_KILL"]
        else:
            argv += ["--unshare-user", "--disable-userns"]
        argv += ["--ro-bind", "/usr", "/usr"]
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink(f"/{link}"):
                argv += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        # A writable /dev/shm of its own: multiprocessing's semaphores and queues live there.
        argv += ["--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/dev/shm"]
        argv += ["--perms", "1777", "--size", str(self.settings.tmp_mb << 20), "--tmpfs", "/tmp"]
        for directory in _ancestors([*binds, DRIVER_IN_SANDBOX, "/mnt/data"]):
            argv += ["--perms", "0755", "--dir", directory]
        for path in binds:
            argv += ["--ro-bind", path, path]
        argv += ["--ro-bind", str(DRIVER), DRIVER_IN_SANDBOX]
        argv += ["--ro-bind", str(KERNEL), "/sandbox/kernel.py"]
        argv += ["--bind", str(spec.data_dir), "/mnt/data", "--chdir", "/mnt/data"]
        # The root and /dev are tmpfs mounts bwrap made. Without root the code runs as their
        # owner (the uid bwrap maps in its user namespace), so read-only is what keeps it from
        # writing there, past every size limit (/tmp, /dev/shm and /mnt/data stay writable:
        # mounts of their own). Device files still open for writing (/dev/null).
        argv += ["--remount-ro", "/dev", "--remount-ro", "/"]
        env = {
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "PATH": f"{venv}/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/.mpl",
            "PYTHONDONTWRITEBYTECODE": "1",
            # One thread per numerical library: the CPU and process limits are per session.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        for name, value in env.items():
            argv += ["--setenv", name, value]
        if seccomp_fd is not None:
            argv += ["--add-seccomp-fd", str(seccomp_fd)]
        argv += ["--", f"{venv}/bin/python", "-I", DRIVER_IN_SANDBOX]
        return [*argv, str(spec.uid), str(spec.gid), venv]

    def _limits(self, join: list[str]) -> None:
        """Runs in the child before exec (inherited by bwrap and the interpreter)."""
        for procs in join:  # into the session's cgroups: every descendant is born in them
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
        s = self.settings
        limits = {
            resource.RLIMIT_AS: s.memory_mb << 20,
            resource.RLIMIT_CPU: s.session_cpu_seconds,
            resource.RLIMIT_NPROC: s.max_processes,
            resource.RLIMIT_FSIZE: s.file_size_mb << 20,
            resource.RLIMIT_NOFILE: s.open_files,
            resource.RLIMIT_CORE: 0,
        }
        for kind, value in limits.items():
            resource.setrlimit(kind, (value, value))

    async def start(
        self, spec: SessionSpec, join: list[str] | None = None
    ) -> asyncio.subprocess.Process:
        program = sandbox_filter()
        fds: tuple[int, ...] = ()
        if program is not None:
            fds = (os.memfd_create("sandbox-seccomp"),)  # bwrap reads the filter from it
            os.write(fds[0], program)
            os.lseek(fds[0], 0, os.SEEK_SET)
        try:
            return await self._spawn(spec, fds, join or [])
        finally:
            for fd in fds:
                os.close(fd)

    async def _spawn(
        self, spec: SessionSpec, fds: tuple[int, ...], join: list[str]
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.argv(spec, fds[0] if fds else None),
            pass_fds=fds,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},  # bwrap gets no keys either
            preexec_fn=lambda: self._limits(join),
            limit=PROTOCOL_LINE_LIMIT,
            close_fds=True,
        )
