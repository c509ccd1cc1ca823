"""Host-wide uid claims for sandbox sessions (a root server gives each session its own uid).

Two live sessions on one host must never share a uid, whichever engine process started them:
the uid is what the kernel's per-user state hangs on (the process limit, keyrings, signals
between processes). Each uid is claimed by an exclusive `flock` on `<UID_LOCK_DIR>/<uid>`, held
for the session's life; the kernel drops the lock when its holder dies, so a crashed engine
never leaks a claim. A uid is let go only once no process of it is left (its session's cgroup
seen empty, or every process of the uid on the host killed and checked), and the lock file is
then emptied; a claimer finding it not empty (its holder died) kills and checks first.

Why /run/openai-assistant-mcp/uids: /run is root's runtime directory on every systemd and
Debian host (no other user can create or replace entries there, unlike /tmp, where another
user could plant the directory first), and every engine process of the host sees it. Engines
in separate containers do not share it: give each container its own `SANDBOX_UID_BASE` range,
or mount one host directory there.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

UID_LOCK_DIR = Path("/run/openai-assistant-mcp/uids")
UID_RANGE = 65536  # uids tried from SANDBOX_UID_BASE
IN_USE = b"in use\n"  # in the lock file while held; emptied by a clean release
KILL_PATIENCE = 2.0  # seconds to wait for a uid's processes to die before passing it over


class NoFreeUid(Exception):
    """Every uid of the range is held by a live session (or its processes would not die)."""


@dataclass
class UidClaim:
    uid: int
    fd: int  # the open, flock'd lock file: the claim lasts as long as it is open


def _status(pid: int | str) -> dict[bytes, bytes] | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            lines = status.read().splitlines()
    except OSError:
        return None  # gone meanwhile
    return dict(line.split(b":", 1) for line in lines if b":" in line)


def _runs_as(fields: dict[bytes, bytes] | None, uid: int) -> bool:
    """A live (not zombie) process whose real, effective or saved uid is `uid`."""
    if fields is None or fields.get(b"State", b"").strip().startswith(b"Z"):
        return False
    return str(uid).encode() in fields.get(b"Uid", b"").split()[:3]


def processes_of(uid: int) -> list[int]:
    return [
        int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _runs_as(_status(pid), uid)
    ]


def kill_all(uid: int) -> bool:
    """SIGKILL every process of `uid` until none is left; False when some would not die."""
    deadline = time.monotonic() + KILL_PATIENCE
    while pids := processes_of(uid):
        if time.monotonic() > deadline:
            return False
        for pid in pids:
            _kill_checked(pid, uid)
        time.sleep(0.002)
    return True


def _kill_checked(pid: int, uid: int) -> None:
    """Kill `pid` through a pidfd, after checking (with the pid pinned) it still is `uid`'s."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if _runs_as(_status(pid), uid):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(pidfd)


def claim_uid(base: int, lock_dir: Path = UID_LOCK_DIR) -> UidClaim:
    """The first uid from `base` no live session of this host holds, locked for the caller."""
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = lock_dir.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise NoFreeUid(f"{lock_dir} must be owned by the server's user with mode 0700")
    directory = os.open(lock_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for uid in range(base, base + UID_RANGE):
            fd = os.open(str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600, dir_fd=directory)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            # A holder that released cleanly emptied the file; one whose engine died did not,
            # so only then is the host searched (~25 ms for 200 processes) for what it left.
            if os.fstat(fd).st_size == 0 or kill_all(uid):
                os.pwrite(fd, IN_USE, 0)
                return UidClaim(uid, fd)
            os.close(fd)  # a process that will not die: leave this uid alone
    finally:
        os.close(directory)
    raise NoFreeUid(f"no free sandbox uid in {base}..{base + UID_RANGE - 1}")


def release_uid(held: UidClaim, contained: bool = False) -> None:
    """Let the uid go once none of its processes is left (if some will not die, the claim is
    kept until this process exits: better a lost uid than a shared one). `contained`: every
    process the session ran was in a cgroup now seen empty, so the host need not be searched."""
    if contained or kill_all(held.uid):
        with contextlib.suppress(OSError):
            os.ftruncate(held.fd, 0)  # released cleanly: the next holder need not search
            os.close(held.fd)
