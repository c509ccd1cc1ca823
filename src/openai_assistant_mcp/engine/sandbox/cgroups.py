"""A control group per sandbox interpreter: limits that hold for all its processes together.

cgroup v2 where the host's unified hierarchy has the memory and pids controllers; else cgroup
v1's memory and pids hierarchies (plus cpuacct for CPU time, when mounted); else none (the
sandbox falls back to per-process rlimits and size-limited tmpfs mounts: see
docs/code-interpreter.md). Each interpreter's group is made under the server's own group
(`<own>/openai-assistant-mcp-sandbox/<pid>-<token>`), joined by bwrap before it executes, so
every process of the session is in it, and removed when the interpreter ends. Memory written to
tmpfs mounts (/tmp, /dev/shm, /mnt/data) is charged to the group of the process that wrote it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PARENT = "openai-assistant-mcp-sandbox"
# (mount root, mount point, fstype, super options) of a cgroup mount.
Mount = tuple[str, str, str, set[str]]
OVERHEAD_TASKS = 4  # bwrap, its init and the driver's supervisor: not the code's own


def _mounts() -> list[Mount]:
    """(mount root, mount point, fstype, super options) of each cgroup mount."""
    found = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            head, _, tail = line.partition(" - ")
            fields, tails = head.split(), tail.split()
            if len(tails) >= 3 and tails[0] in ("cgroup", "cgroup2"):
                found.append((fields[3], fields[4], tails[0], set(tails[2].split(","))))
    return found


def _own_groups() -> dict[str, str]:
    """This process's group path per v1 controller ('' key: the v2 group)."""
    groups = {}
    with open("/proc/self/cgroup") as cgroup:
        for line in cgroup:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                groups[controller] = path
    return groups


def _under(mount_point: str, mount_root: str, path: str) -> Path:
    relative = path[len(mount_root) :] if path.startswith(mount_root) else path
    return Path(mount_point) / relative.lstrip("/")


@dataclass(frozen=True)
class CgroupHost:
    """Where this process makes its sessions' groups: one parent per hierarchy."""

    version: int
    memory: Path
    pids: Path
    cpu: Path | None  # the group whose CPU time is read (v1: cpuacct), None if not mounted

    def describe(self) -> str:
        controllers = "memory, pids" + (", cpu time" if self.cpu else "")
        return f"cgroup v{self.version} ({controllers}) under {self.memory.parent}"

    def create(self, memory_bytes: int, max_tasks: int) -> SessionCgroup:
        name = f"{os.getpid()}-{secrets.token_hex(6)}"
        dirs = list(dict.fromkeys(p / name for p in (self.memory, self.pids, self.cpu) if p))
        group = SessionCgroup(self.version, dirs, self.memory / name, self.cpu and self.cpu / name)
        try:
            for directory in dirs:
                directory.mkdir()
            group.set_limits(memory_bytes, max_tasks, self.pids / name)
        except OSError:
            group.remove()
            raise
        return group


@dataclass
class SessionCgroup:
    version: int
    dirs: list[Path]
    memory: Path
    cpu: Path | None

    @property
    def procs_files(self) -> list[str]:
        """Files a process writes its pid into to join the group (in every hierarchy)."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    def set_limits(self, memory_bytes: int, max_tasks: int, pids: Path) -> None:
        if self.version == 2:
            (self.memory / "memory.max").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):  # no swap for the session (absent without swap)
                (self.memory / "memory.swap.max").write_text("0")
            (pids / "pids.max").write_text(str(max_tasks + OVERHEAD_TASKS))
            return
        (self.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        with contextlib.suppress(OSError):  # memsw: present only with swap accounting
            (self.memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
        (pids / "pids.max").write_text(str(max_tasks + OVERHEAD_TASKS))

    def oom_kills(self) -> int:
        """Processes of the group the kernel killed for its memory limit, so far."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.memory / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def cpu_seconds(self) -> float | None:
        """CPU time all the group's processes used, or None where it is not measured."""
        try:
            if self.version == 2:
                for line in (self.memory / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) / 1e6
            elif self.cpu is not None:
                return int((self.cpu / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            pass
        return None

    def pids(self) -> list[int]:
        found: set[int] = set()
        for directory in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                found.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
        return sorted(found)

    def kill(self) -> None:
        """SIGKILL every process in the group until it is empty (bounded)."""
        if self.version == 2:
            with contextlib.suppress(OSError):
                (self.memory / "cgroup.kill").write_text("1")
        deadline = time.monotonic() + 5
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.002)

    def remove(self) -> bool:
        """Kill every process in the group and remove it; True when it was seen empty."""
        self.kill()
        empty = not self.pids()
        for directory in self.dirs:
            for _ in range(500):  # EBUSY while the last killed process is being torn down
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if error.errno != errno.EBUSY:
                        break
                    time.sleep(0.002)
        return empty


def _parent(mount_point: str, mount_root: str, own: str) -> Path:
    parent = _under(mount_point, mount_root, own) / PARENT
    parent.mkdir(exist_ok=True)
    if not os.access(parent, os.W_OK):  # e.g. made by a root server, and this one is not
        raise PermissionError(errno.EACCES, "cgroup not writable", str(parent))
    for stale in parent.iterdir():  # groups of engine processes that are gone (empty ones)
        pid = stale.name.split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                stale.rmdir()
    return parent


def _v2(mount: Mount, own: str) -> CgroupHost | None:
    root, point, _, _ = mount
    group = _under(point, root, own)
    if not {"memory", "pids"} <= set((group / "cgroup.controllers").read_text().split()):
        return None
    parent = _parent(point, root, own)
    enabled = set((parent / "cgroup.subtree_control").read_text().split())
    if not {"memory", "pids"} <= enabled:
        # The server's own group must delegate them: possible when it holds no processes
        # itself (v2's rule), i.e. at the root or under a delegated subtree.
        (group / "cgroup.subtree_control").write_text("+memory +pids")
        (parent / "cgroup.subtree_control").write_text("+memory +pids")
    return CgroupHost(2, parent, parent, parent)


def _v1(mounts: list[Mount], groups: dict[str, str]) -> CgroupHost:
    found = {}
    for root, point, fstype, options in mounts:
        for controller in ("memory", "pids", "cpuacct"):
            if fstype == "cgroup" and controller in options and controller in groups:
                found[controller] = _parent(point, root, groups[controller])
    if "memory" not in found or "pids" not in found:
        raise OSError("neither cgroup v2 nor cgroup v1 memory and pids controllers are mounted")
    return CgroupHost(1, found["memory"], found["pids"], found.get("cpuacct"))


@functools.cache
def detect() -> CgroupHost | str:
    """The host's cgroup setup for sessions, or why there is none (said by `sandbox check`)."""
    try:
        return choose(_mounts(), _own_groups())
    except OSError as error:
        return f"cgroups unreadable: {error}"


def choose(mounts: list[Mount], groups: dict[str, str]) -> CgroupHost | str:
    """v2 where its hierarchy has memory and pids and the server may delegate them, else v1,
    else why neither. `mounts` as in /proc/self/mountinfo, `groups` as in /proc/self/cgroup
    (tests lay out a directory like a cgroup2 mount and pass it here)."""
    reason = "no cgroup v2 hierarchy with the memory and pids controllers"
    for mount in mounts:
        if mount[2] == "cgroup2" and "" in groups:
            try:
                if (host := _v2(mount, groups[""])) is not None:
                    return host
            except OSError as error:
                reason = f"cgroup v2 not delegated to the server ({error.strerror})"
    try:
        return _v1(mounts, groups)
    except OSError as error:
        return f"{reason}; {error.strerror or error}"
