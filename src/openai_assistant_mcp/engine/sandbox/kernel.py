"""The kernel: the child of the sandbox's driver that runs the user's code (stdlib only; runs
INSIDE the sandbox, never imported by the server). See driver.py for the protocol.

It drops to the session's uid, points fds 0-2 away from any channel (C extensions' and
subprocesses' output lands in the capture file the supervisor reads), then reads requests
from its own pipe and replies on its own pipe, echoing each request's nonce. Variables live in
one namespace for the life of the process, like a notebook kernel.
"""

from __future__ import annotations

import ast
import binascii
import io
import json
import linecache
import os
import resource
import signal
import sys
import traceback
from types import FrameType
from typing import Any, NoReturn

# The name tracebacks give the code (a cell has no file).
CODE_FILE = "<code>"


class ExecutionLimit(BaseException):
    """Raised into user code when its wall-clock or CPU time is up (BaseException: not caught
    by a bare `except Exception` in the user's code)."""


class CappedWriter(io.TextIOBase):
    """stdout/stderr for user code: keeps the first `limit` characters, counts the rest."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = 0
        self.dropped = 0

    def reset(self, limit: int) -> None:
        self.parts, self.size, self.limit, self.dropped = [], 0, limit, 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(len(text), room)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        return "".join(self.parts)


def drop_privileges(uid: int, gid: int) -> None:
    """Started as root (privileged bwrap): become the session's own unprivileged user."""
    if os.getuid() == 0 and uid:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    if os.getuid() == 0 and uid:
        raise SystemExit("sandbox driver: still root after dropping privileges")


def seed_matplotlib_cache(venv: str) -> None:
    """Copy the font list built at setup, so the first plot does not rebuild it (seconds)."""
    source = os.path.join(venv, "share", "mplconfig")
    target = os.environ.get("MPLCONFIGDIR", "/tmp/.mpl")
    os.makedirs(target, exist_ok=True)
    try:
        names = os.listdir(source)
    except OSError:
        return
    for name in names:
        if name.endswith(".json"):
            with open(os.path.join(source, name), "rb") as src:
                data = src.read()
            with open(os.path.join(target, name), "wb") as dst:
                dst.write(data)


def run_code(code: str, namespace: dict[str, Any]) -> str | None:
    """Execute like a notebook cell: the last bare expression's repr is printed. An error is
    told as a short traceback: the code's own lines shown (`error_text`)."""
    # The source as tracebacks read it (no file holds it): each frame in the code shows its line.
    linecache.cache[CODE_FILE] = (len(code), None, code.splitlines(True), CODE_FILE)
    try:
        # Compiled from the text first: every syntax error (also the compiler's, such as a
        # `return` outside a function) shows its line and where in it.
        compile(code, CODE_FILE, "exec", dont_inherit=True)
        tree = ast.parse(code, CODE_FILE, "exec")
    except SyntaxError as error:
        lines = code.splitlines()
        if error.text is None and error.lineno and 0 < error.lineno <= len(lines):
            error.text = lines[error.lineno - 1]  # the compiler's own errors come without it
        return "".join(traceback.format_exception_only(type(error), error))
    last = None
    tail = tree.body[-1] if tree.body else None
    if isinstance(tail, ast.Expr):
        tree.body.pop()
        last = ast.Expression(tail.value)
    try:
        exec(compile(tree, CODE_FILE, "exec"), namespace)
        if last is not None:
            value = eval(compile(last, CODE_FILE, "eval"), namespace)
            if value is not None:
                print(repr(value))
        return None
    except ExecutionLimit as limit:
        return f"{type(limit).__name__}: {limit}"
    except MemoryError:
        return "MemoryError: the sandbox's memory limit was reached"
    except (Exception, SystemExit, KeyboardInterrupt) as error:
        return error_text(error)


def error_text(error: BaseException) -> str:
    """The traceback of an error the code raised, short: the code's own frames with their
    lines, library frames between them counted in one line (the frame that raised kept), the
    exception without the chain of others raised while handling it (pandas raises a KeyError
    from another); the driver's own frame left out."""
    frames = traceback.extract_tb(error.__traceback__)[1:]  # [0] is this module's exec
    lines = ["Traceback (most recent call last):\n"]
    skipped = 0
    for index, frame in enumerate(frames):
        if frame.filename != CODE_FILE and index != len(frames) - 1:
            skipped += 1
            continue
        if skipped:
            lines.append(f"  [{skipped} frame{'s' if skipped > 1 else ''} in library code]\n")
            skipped = 0
        lines += traceback.format_list([frame])
    lines += traceback.format_exception_only(type(error), error)
    return "".join(lines)


def collect_figures(max_images: int, max_bytes: int) -> list[str]:
    """Open matplotlib figures as base64 PNGs (then closed), like plt.show() would."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    images = []
    try:
        for number in plt.get_fignums()[:max_images]:
            buffer = io.BytesIO()
            plt.figure(number).savefig(buffer, format="png", dpi=100, bbox_inches="tight")
            if buffer.tell() <= max_bytes:
                images.append(binascii.b2a_base64(buffer.getvalue(), newline=False).decode())
    except Exception:
        pass
    finally:
        plt.close("all")
    return images


def reap_children() -> None:
    """Collect the exit status of children the supervisor killed (they hold pids till then)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def serve(uid: int, gid: int, venv: str, commands: int, replies: int, capture: int) -> None:
    drop_privileges(uid, gid)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(capture, 1)  # C extensions and subprocesses write here; the supervisor reads it
    os.dup2(capture, 2)
    for fd in (devnull, capture):
        os.close(fd)
    requests = os.fdopen(commands, "r", encoding="utf-8")
    answers = os.fdopen(replies, "w", encoding="utf-8")
    writer = CappedWriter()
    sys.stdin = io.StringIO()
    sys.stdout = sys.stderr = writer
    seed_matplotlib_cache(venv)

    def limit_reached(signum: int, _frame: FrameType | None) -> NoReturn:
        kind = "wall-clock" if signum == signal.SIGALRM else "CPU"
        raise ExecutionLimit(f"execution stopped: the {kind} time limit was reached")

    signal.signal(signal.SIGALRM, limit_reached)
    signal.signal(signal.SIGXCPU, limit_reached)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with EFBIG instead
    kernel_pid = os.getpid()
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    for line in requests:
        request = json.loads(line)
        reap_children()
        writer.reset(int(request["max_output"]))
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime) + 1 + int(request["cpu"])
        _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        if cpu_hard != resource.RLIM_INFINITY:
            soft = min(soft, cpu_hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
        signal.setitimer(signal.ITIMER_REAL, float(request["timeout"]))
        try:
            error = run_code(request["code"], namespace)
        except ExecutionLimit as limit:  # arrived between the user's code and the cleanup
            error = f"ExecutionLimit: {limit}"
        finally:
            if os.getpid() != kernel_pid:
                os._exit(0)  # a child the user's code forked must never reply
            signal.setitimer(signal.ITIMER_REAL, 0)
        reply = {
            "nonce": request["nonce"],
            "output": writer.text(),
            "dropped": writer.dropped,
            "error": error,
            "images": collect_figures(request["max_images"], request["max_image_bytes"]),
        }
        answers.write(json.dumps(reply) + "\n")
        answers.flush()
