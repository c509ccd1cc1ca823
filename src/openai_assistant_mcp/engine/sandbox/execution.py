"""What one execution gives back: the driver's answer checked again (typed, bounded, PNGs
only), and the limits the session met said in words that name them."""

from __future__ import annotations

import base64
import contextlib
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from .backend import SessionSpec
from .cgroups import SessionCgroup
from .disk import empty, usage_of
from .settings import SandboxSettings


@dataclass
class Execution:
    output: str  # stdout/stderr as the code printed them (capped)
    error: str | None = None  # traceback or limit message
    truncated: int = 0  # characters of output left out
    images: list[bytes] = field(default_factory=list)  # PNG figures
    note: str | None = None  # e.g. "the interpreter was restarted"

    def logs(self) -> str:
        """The text the model and the run step see."""
        parts = [f"[{self.note}]"] if self.note else []
        if self.output:
            parts.append(self.output.rstrip("\n"))
        if self.truncated:
            parts.append(f"[output truncated: {self.truncated} more characters not shown]")
        if self.error:
            parts.append(self.error.rstrip("\n"))
        return "\n".join(parts)


def is_png(data: bytes) -> bool:
    """A PNG as the format defines its frame: signature, IHDR first (13 bytes, CRC right),
    IEND last. (Pillow is not a dependency of the server; the frame is all the check needs.)"""
    if len(data) < 57 or not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    length, kind = struct.unpack(">I4s", data[8:16])
    if length != 13 or kind != b"IHDR":
        return False
    if zlib.crc32(data[12:29]) != struct.unpack(">I", data[29:33])[0]:
        return False
    return data.endswith(b"\x00\x00\x00\x00IEND\xaeB`\x82")


def result_from(s: SandboxSettings, answer: dict[str, Any], note: str | None) -> Execution:
    """The driver's answer, checked again: every field typed and within its limit, and
    only images that are PNGs (the code could have produced any bytes)."""
    images = []
    items = answer.get("images")
    for item in items[: s.max_images] if isinstance(items, list) else []:
        with contextlib.suppress(ValueError, TypeError):
            data = base64.b64decode(item, validate=True)
            if len(data) <= s.max_image_mb << 20 and is_png(data):
                images.append(data)
    output, error, truncated = (
        answer.get("output"),
        answer.get("error"),
        answer.get("truncated"),
    )
    return Execution(
        output=output[: s.output_chars] if isinstance(output, str) else "",
        error=error[: s.output_chars] if isinstance(error, str) else None,
        truncated=truncated if isinstance(truncated, int) and truncated > 0 else 0,
        images=images,
        note=note,
    )


def timed_out(s: SandboxSettings) -> str:
    return (
        f"Execution timed out after {s.exec_timeout:g} s and the interpreter "
        "was stopped; variables are gone"
    )


def ended(s: SandboxSettings, reason: str, over: str | None) -> str:
    cause = over or (
        f"e.g. by exceeding the sandbox's memory ({s.memory_mb} MiB) or process limits"
    )
    return (
        f"The interpreter ended while running this code ({reason}). {cause}. It will "
        "restart on the next execution without earlier variables"
    )


def over_limits(
    s: SandboxSettings,
    group: SessionCgroup | None,
    spec: SessionSpec,
    ooms: int,
    answer: dict[str, Any] | None,
) -> tuple[str | None, bool]:
    """What the session's limits stopped in this execution (said to the model and the run
    step, naming the limit), and whether the interpreter must be stopped."""
    said, stop = [], False
    if group is not None and group.oom_kills() > ooms:
        said.append(
            f"A process of this execution was killed: the session's memory limit "
            f"({s.memory_mb} MiB for all its processes, /tmp and /dev/shm together, "
            "SANDBOX_MEMORY_MB) was reached"
        )
    used = group.cpu_seconds() if group is not None else None
    if used is not None and used > s.session_cpu_seconds:
        said.append(
            f"The session's CPU time limit ({s.session_cpu_seconds} s, "
            "SANDBOX_SESSION_CPU_SECONDS) was reached; the interpreter was stopped"
        )
        stop = True
    full = answer.get("full") if answer is not None else None
    if isinstance(full, list) and "/tmp" in full:
        said.append(f"/tmp is full: at most {s.tmp_mb} MiB (SANDBOX_TMP_MB)")
    if isinstance(full, list) and "/dev/shm" in full:
        said.append("/dev/shm is full: at most 64 MiB")
    with contextlib.suppress(OSError):
        usage = usage_of(spec.data_dir, s.max_files, s.data_mb << 20, spec.data_mounted)
        if usage.full:
            said.append(
                f"/mnt/data is full: at most {s.data_mb} MiB (SANDBOX_DATA_MB) in at most "
                f"{s.max_files} files (SANDBOX_MAX_FILES)"
                + ("; writes beyond that failed" if spec.data_mounted else "")
            )
        if usage.full and not spec.data_mounted:  # measured only now: it must be emptied
            empty(spec.data_dir)
            said[-1] += "; the interpreter was stopped and the files in /mnt/data deleted"
            stop = True
    return ("\n".join(said) or None), stop
