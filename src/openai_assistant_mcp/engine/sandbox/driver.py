"""The REPL driver that runs INSIDE the sandbox (stdlib only; never imported by the server).

Speaks JSON lines: one request on the protocol input, one answer on the protocol output.
Requests: {"op": "exec", "code": str, "timeout": s, "cpu": s, "max_output": n}, {"op": "ping"}.
Answers to exec: {"output": str, "truncated": int, "error": str|None, "images": [base64 PNG]}.
Variables live in one namespace for the life of the process, like a notebook kernel.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import os
import resource
import signal
import sys
import time
import traceback
from types import FrameType
from typing import Any, NoReturn

FD_CAPTURE = "/tmp/.fd_output"  # where C-level writes to fds 1 and 2 land (read after each run)
MAX_IMAGES = 8
MAX_IMAGE_BYTES = 5 << 20


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
    """Execute like a notebook cell: the last bare expression's repr is printed."""
    try:
        tree = ast.parse(code, "<code>", "exec")
    except SyntaxError:
        return traceback.format_exc(limit=0)
    last = None
    tail = tree.body[-1] if tree.body else None
    if isinstance(tail, ast.Expr):
        tree.body.pop()
        last = ast.Expression(tail.value)
    try:
        exec(compile(tree, "<code>", "exec"), namespace)
        if last is not None:
            value = eval(compile(last, "<code>", "eval"), namespace)
            if value is not None:
                print(repr(value))
        return None
    except ExecutionLimit as limit:
        return f"{type(limit).__name__}: {limit}"
    except MemoryError:
        return "MemoryError: the sandbox's memory limit was reached"
    except (Exception, SystemExit, KeyboardInterrupt):
        kind, value, tb = sys.exc_info()
        # Drop the driver's own frame from the traceback: the user sees only their code.
        return "".join(traceback.format_exception(kind, value, tb.tb_next if tb else None))


def collect_figures() -> list[str]:
    """Every open matplotlib figure as a base64 PNG (then closed), like plt.show() would."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    images = []
    try:
        for number in plt.get_fignums()[:MAX_IMAGES]:
            buffer = io.BytesIO()
            plt.figure(number).savefig(buffer, format="png", dpi=100, bbox_inches="tight")
            if buffer.tell() <= MAX_IMAGE_BYTES:
                images.append(base64.b64encode(buffer.getvalue()).decode())
    except Exception:
        pass
    finally:
        plt.close("all")
    return images


def stop_other_processes() -> None:
    """Processes the cell started (background children, a fork bomb) end with the cell."""
    me = os.getpid()
    for _ in range(200):  # repeated: a fork bomb's children may fork while being killed
        try:
            os.kill(-1, signal.SIGKILL)  # all this user may signal in the PID namespace but us
        except OSError:
            pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            return
        time.sleep(0.005)


def read_fd_capture(limit: int) -> tuple[str, int]:
    """What C code and subprocesses wrote to fds 1/2: the first `limit` bytes, the rest's size."""
    try:
        with open(FD_CAPTURE, "rb") as captured:
            size = os.fstat(captured.fileno()).st_size
            data = captured.read(max(limit, 0))
        os.truncate(FD_CAPTURE, 0)
    except OSError:
        return "", 0
    return data.decode("utf-8", "replace"), max(0, size - len(data))


def main() -> None:
    uid, gid, venv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    drop_privileges(uid, gid)
    # The protocol gets private copies of fds 0/1; user code's fds 0/1/2 point elsewhere, so
    # output from C extensions or subprocesses cannot corrupt the protocol stream.
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    capture = os.open(FD_CAPTURE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    os.dup2(capture, 1)
    os.dup2(capture, 2)
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
    driver_pid = os.getpid()
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}

    for line in requests:
        request = json.loads(line)
        if request.get("op") == "ping":
            answers.write('{"pong": true}\n')
            answers.flush()
            continue
        max_output = int(request.get("max_output", 20000))
        writer.reset(max_output)
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu_used = int(used.ru_utime + used.ru_stime) + 1
        _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = cpu_used + int(request.get("cpu", 60))
        if cpu_hard != resource.RLIM_INFINITY:
            soft = min(soft, cpu_hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
        signal.setitimer(signal.ITIMER_REAL, float(request.get("timeout", 60)))
        try:
            error = run_code(request["code"], namespace)
        except ExecutionLimit as limit:  # arrived between the user's code and the cleanup
            error = f"ExecutionLimit: {limit}"
        finally:
            if os.getpid() != driver_pid:
                os._exit(0)  # a child the user's code forked must never answer the server
            signal.setitimer(signal.ITIMER_REAL, 0)
        stop_other_processes()
        images = collect_figures()
        low_level, low_dropped = read_fd_capture(max_output)
        output = low_level + writer.text()
        answer = {
            "output": output[:max_output],
            "truncated": low_dropped + writer.dropped + max(0, len(output) - max_output),
            "error": error,
            "images": images,
        }
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
