"""A session's /mnt/data: a size- and inode-limited tmpfs mounted on its host directory.

Mounted by the (root) server on the session's directory before bwrap binds it as /mnt/data,
so the server copies files in and out at the same host path as before, files survive an
interpreter restart, and the kernel refuses writes past `SANDBOX_DATA_MB` bytes or
`SANDBOX_MAX_FILES` files (ENOSPC) instead of filling the data directory's filesystem. Without
root (no mount), `usage` measures the directory after each execution instead (bounded walk).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

MS_NOSUID, MS_NODEV = 2, 4
MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def mount_tmpfs(path: Path, size_bytes: int, files: int, uid: int, gid: int) -> None:
    # nr_inodes counts the root directory too.
    options = f"size={size_bytes},nr_inodes={files + 1},mode=0755,uid={uid},gid={gid}"
    if _libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()):
        code = ctypes.get_errno()
        raise OSError(code, f"mounting /mnt/data's tmpfs: {os.strerror(code)}", str(path))


def unmount(path: Path) -> None:
    """Detach the tmpfs at `path` (its memory is freed when no process uses it any more)."""
    _libc.umount2(os.fsencode(path), MNT_DETACH)


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below `root` (deepest first), e.g. sessions of a dead process."""
    prefix = os.fsencode(root)
    found = []
    with open("/proc/self/mountinfo", "rb") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].replace(b"\\040", b" ")
            if point == prefix or point.startswith(prefix + b"/"):
                found.append(Path(os.fsdecode(point)))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


@dataclass
class Usage:
    files: int  # entries (files, directories, links), stopping one past the limit
    bytes: int
    full: bool  # no room left for a byte or a file


def usage_of(path: Path, max_files: int, max_bytes: int, mounted: bool) -> Usage:
    """How full the session's /mnt/data is: from the tmpfs's counters when mounted, else by
    walking it (at most max_files + 1 entries, never following links)."""
    if mounted:
        info = os.statvfs(path)
        used_files = info.f_files - info.f_ffree - 1
        used_bytes = (info.f_blocks - info.f_bfree) * info.f_frsize
        return Usage(used_files, used_bytes, info.f_bavail == 0 or info.f_ffree == 0)
    files = size = 0
    stack = [str(path)]
    while stack and files <= max_files:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    files += 1
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        size += entry.stat(follow_symlinks=False).st_blocks * 512
                    if files > max_files:
                        break
        except OSError:
            continue
    return Usage(files, size, files > max_files or size > max_bytes)


def empty(path: Path) -> None:
    """Delete everything in the session's directory (not following links)."""
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
