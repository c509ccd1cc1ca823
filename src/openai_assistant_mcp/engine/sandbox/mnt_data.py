"""A session's /mnt/data seen from the host: files placed, listed and read by the server
without ever following the sandbox's symlinks (a link planted by code cannot make the server
touch a host file). Names are bytes as the sandbox wrote them; `display_name` is their valid
UTF-8 form for Files and messages."""

from __future__ import annotations

import contextlib
import os
import stat

from .backend import SessionSpec


def safe_name(name: str) -> str:
    """A file name for /mnt/data: its last path component, never '.', '..' or empty."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].replace("\0", "")
    return base if base not in ("", ".", "..") else "file"


def display_name(raw: bytes) -> str:
    """A sandbox-written name as valid UTF-8: bytes that are not UTF-8 become U+FFFD."""
    return raw.decode("utf-8", "replace")


def _directory(spec: SessionSpec) -> int:
    return os.open(spec.data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def write_file(spec: SessionSpec, name: str, data: bytes) -> None:
    directory = _directory(spec)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=directory)  # whatever the code left there, even a link
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(name, flags, 0o644, dir_fd=directory)
        with os.fdopen(fd, "wb") as target:
            target.write(data)
            if os.getuid() == 0:
                os.fchown(target.fileno(), spec.uid, spec.gid)
    finally:
        os.close(directory)


def scan_files(spec: SessionSpec, max_entries: int) -> dict[bytes, tuple[int, int]]:
    """Regular files directly in /mnt/data: raw name -> (size, mtime_ns), looking at no more
    than `max_entries` entries (the session's file limit bounds the server's work)."""
    found = {}
    with os.scandir(os.fsencode(spec.data_dir)) as entries:
        for seen, entry in enumerate(entries):
            if seen >= max_entries:
                break
            if entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    found[entry.name] = (info.st_size, info.st_mtime_ns)
    return found


def read_file(spec: SessionSpec, name: bytes, max_bytes: int) -> bytes | None:
    directory = _directory(spec)
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
        fd = os.open(name, flags, dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        return source.read(max_bytes + 1)[:max_bytes]
