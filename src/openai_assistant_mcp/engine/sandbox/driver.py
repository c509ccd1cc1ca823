"""The REPL driver that runs INSIDE the sandbox (stdlib only; never imported by the server).

Two processes. The supervisor (this script's first process) alone holds the protocol pipes to
the server; it runs no user code, is not dumpable (so the user's processes can neither open its
/proc/<pid>/fd nor ptrace it) and, under a root server, keeps uid 0 with only CAP_SETUID,
CAP_SETGID and CAP_KILL, so the code cannot signal it either. The kernel, a child it forks,
drops to the session's uid and runs the code; it has only its own two pipes to the supervisor.
Whatever the code writes there is at most a reply for the current execution (each carries a
fresh nonce; stale or forged lines are dropped), and the supervisor bounds and checks it before
answering the server: the user's code can produce output, never reach the server's channel.

Between executions the kernel is stopped (SIGSTOP: the threads a cell started do not run until
the next cell, whose CPU time they then count in) and every other process is killed.

Server protocol, JSON lines: {"op": "exec", "id", "code", "timeout", "cpu", "max_output",
"max_images", "max_image_bytes"} -> {"id", "output", "truncated", "error", "images": [base64
PNG], "full": [mount points with no room left], "died": null | why the kernel ended}.
"""

from __future__ import annotations

import binascii
import ctypes
import json
import os
import select
import signal
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script dir out
import kernel  # type: ignore[import-not-found]  # kernel.py, mounted beside this script

FD_CAPTURE = "/tmp/.fd_output"  # where C-level writes to fds 1 and 2 land (read after each run)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KERNEL_GRACE = 1.5  # seconds past the kernel's own alarm before the supervisor kills it
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


# --- the supervisor ------------------------------------------------------------------------


class KernelProcess:
    """The supervisor's handle on the kernel process: start, talk, stop between cells."""

    def __init__(self, uid: int, gid: int, venv: str, capture: int) -> None:
        self.uid, self.gid, self.venv, self.capture = uid, gid, venv, capture
        self.pid = 0
        self.exited: int | None = None  # the kernel's wait status, once reaped
        self.commands = self.replies = -1
        self.pending = b""

    def start(self) -> None:
        commands_r, commands_w = os.pipe()
        replies_r, replies_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                for fd in (0, 1, commands_w, replies_r):  # the server's pipes stay out of reach
                    os.close(fd)
                kernel.serve(self.uid, self.gid, self.venv, commands_r, replies_w, self.capture)
            finally:
                os._exit(1)
        os.close(commands_r)
        os.close(replies_w)
        self.pid, self.commands, self.replies, self.pending = pid, commands_w, replies_r, b""

    def stop(self) -> str | None:
        """Kill the kernel; why it ended (its exit status)."""
        if not self.pid:
            return None
        for fd in (self.commands, self.replies):
            os.close(fd)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        status = self.exited
        if status is None:
            _, status = os.waitpid(self.pid, 0)
        self.pid, self.exited = 0, None
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.WEXITSTATUS(status)}"

    def execute(
        self, request: dict[str, Any], max_reply: int
    ) -> tuple[dict[str, Any] | None, str | None]:
        """Send the code; the kernel's reply (None: none came), and why the kernel ended."""
        if not self.pid:
            self.start()
        os.kill(self.pid, signal.SIGCONT)
        nonce = os.urandom(16).hex()  # (secrets would import OpenSSL: +30 ms a start)
        command = json.dumps({**request, "nonce": nonce}).encode() + b"\n"
        try:
            os.write(self.commands, command)  # a pipe write blocks until all is written
        except OSError:
            return None, self.stop()
        deadline = time.monotonic() + float(request["timeout"]) + KERNEL_GRACE
        while True:
            line = self._line(deadline, max_reply)
            if line is None:  # timed out, ended, or a reply past any bound
                timed_out = time.monotonic() >= deadline
                ended = self.stop()
                return None, "the execution timed out" if timed_out else ended
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            if isinstance(reply, dict) and reply.get("nonce") == nonce:
                return reply, None  # any other line was not this execution's reply

    def _line(self, deadline: float, max_reply: int) -> bytes | None:
        while b"\n" not in self.pending:
            wait = deadline - time.monotonic()
            if wait <= 0 or len(self.pending) > max_reply:
                return None
            if not select.select([self.replies], [], [], wait)[0]:
                continue
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                return None
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line

    def pause(self) -> None:
        """Between cells: the kernel stopped (all its threads), every other process killed."""
        me = os.getpid()
        for _ in range(200):  # repeated: a fork bomb's children may fork while being killed
            if self.pid and self.exited is None and state_of(self.pid) != b"T":
                os.kill(self.pid, signal.SIGSTOP)
                self.wait_stopped()
            others = [p for p in live_pids() if p not in (1, me, self.pid)]
            for pid in others:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.reap()
            if not others and (not self.pid or self.exited or state_of(self.pid) == b"T"):
                return  # (a process killed meanwhile may have continued the kernel: again)
            time.sleep(0.002)

    def wait_stopped(self) -> None:
        """Until the kernel has stopped (reported to its parent, us) or ended."""
        _, status = os.waitpid(self.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            self.exited = status

    def reap(self) -> None:
        """Collect the supervisor's dead children: orphans of the code's processes (it is a
        child subreaper, so they come here, holding pids till then) and a dead kernel."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid:
                self.exited = status


def state_of(pid: int) -> bytes:
    """A process's state letter (R, S, T, Z...), or b"" when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return b""


def live_pids() -> list[int]:
    """Processes of the sandbox that are not zombies."""
    pids = (int(name) for name in os.listdir("/proc") if name.isdigit())
    return [pid for pid in pids if state_of(pid) not in (b"Z", b"")]


def read_fd_capture(capture: int, limit: int) -> tuple[str, int]:
    """What C code and subprocesses wrote to fds 1/2: the first `limit` bytes, the rest's size."""
    try:
        size = os.fstat(capture).st_size
        data = os.pread(capture, max(limit, 0), 0)
        os.ftruncate(capture, 0)
    except OSError:
        return "", 0
    return data.decode("utf-8", "replace"), max(0, size - len(data))


def checked_images(reply: dict[str, Any], max_images: int, max_bytes: int) -> list[str]:
    """The reply's images that are PNGs within the size limit, at most `max_images`."""
    images = reply.get("images")
    kept = []
    for item in images[:max_images] if isinstance(images, list) else []:
        try:
            data = binascii.a2b_base64(item, strict_mode=True)
        except (ValueError, TypeError):
            continue
        if len(data) <= max_bytes and data.startswith(PNG_SIGNATURE):
            kept.append(item)
    return kept


def full_mounts() -> list[str]:
    """The writable mounts with no room left (bytes or files)."""
    full = []
    for path in ("/mnt/data", "/tmp", "/dev/shm"):
        try:
            info = os.statvfs(path)
        except OSError:
            continue
        if info.f_bavail == 0 or (info.f_files and info.f_ffree == 0):
            full.append(path)
    return full


def answer(request: dict[str, Any], interpreter: KernelProcess, capture: int) -> dict[str, Any]:
    max_output = int(request["max_output"])
    max_images, max_image_bytes = int(request["max_images"]), int(request["max_image_bytes"])
    max_reply = 4 * max_output + max_images * (max_image_bytes * 4 // 3 + 16) + (64 << 10)
    kernel_reply, died = interpreter.execute(request, max_reply)
    interpreter.pause()
    low_level, low_dropped = read_fd_capture(capture, max_output)
    reply: dict[str, Any] = kernel_reply or {}
    text, dropped, error = reply.get("output"), reply.get("dropped"), reply.get("error")
    text = text if isinstance(text, str) else ""
    dropped = dropped if isinstance(dropped, int) else 0
    error = error if isinstance(error, str) else None
    output = low_level + text[:max_output]
    return {
        "id": request["id"],
        "output": output[:max_output],
        "truncated": low_dropped + max(dropped, 0) + max(0, len(output) - max_output),
        "error": error[:max_output] if error else None,
        "images": checked_images(reply, max_images, max_image_bytes),
        "full": full_mounts(),
        "died": died,
    }


def main() -> None:
    uid, gid, venv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no /proc/<pid>/fd or ptrace for the user's code
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # the kernel's orphans are reaped here
    capture = os.open(FD_CAPTURE, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    if os.getuid() != 0:
        uid = gid = 0  # an unprivileged sandbox: the kernel keeps the one uid there is
    requests = os.fdopen(0, "r", encoding="utf-8")
    answers = os.fdopen(1, "w", encoding="utf-8")
    interpreter = KernelProcess(uid, gid, venv, capture)
    interpreter.start()
    for line in requests:
        request = json.loads(line)
        if request.get("op") == "ping":
            answers.write('{"pong": true}\n')
        else:
            answers.write(json.dumps(answer(request, interpreter, capture)) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
