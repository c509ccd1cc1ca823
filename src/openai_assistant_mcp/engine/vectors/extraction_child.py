"""The extraction processes (never imported by the server): a zygote, and the children it
forks, each extracting files one at a time.

`python -m openai_assistant_mcp.engine.vectors.extraction_child FD` is the zygote. It loads the
parsers and the tokenizer once (importing them takes ~1.3 s, loading cl100k ~0.25 s), then
waits on the control socket FD. For each socket the server passes it, it forks a child, says
("pid", pid) on that socket, and, once the child has ended and been reaped, ("exit", code):
the server learns how a child it did not hear from ended (killed at the CPU limit, a crash
under the memory limit). A child serves files one at a time, each as: its limits, (filename,
max_tokens, overlap_tokens), the file's bytes; answered ("reply", ("ok", [(text, tokens),
...]) or ("error", code, message), retiring), or the child exits (OUT_OF_MEMORY, SIGXCPU).
The zygote ends when the server closes the control socket (the server stopped or died),
killing any child still running."""

from __future__ import annotations

import gc
import math
import os
import resource
import select
import signal
import socket
import sys
from multiprocessing.connection import Connection

from .text import ExtractionError, chunk_text, encoding, extract_text, preload_parsers

Reply = tuple[object, ...]
OUT_OF_MEMORY = 3  # a child's exit code when it ran out of memory (RLIMIT_AS)


MAX_FILES = 200  # files one child extracts before it exits (a fresh heap now and then)
RETIRE_AFTER_BYTES = 256 * 1024 * 1024  # peak RSS past which a child exits after its answer


def extract(conn: Connection) -> None:
    """One child's work: for each file the server sends, its limits (set anew from the CPU
    time used so far), the file, the answer and whether this child retires after it; until
    the server closes the connection or MAX_FILES. A file past a limit ends the child."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.nice(5)  # the server's own requests go first on a busy machine
    for served in range(1, MAX_FILES + 1):
        try:
            memory_bytes, cpu_seconds = conn.recv()
        except EOFError:
            return  # the server keeps no more idle children
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = math.ceil(used.ru_utime + used.ru_stime) + cpu_seconds
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, _hard(resource.RLIMIT_AS)))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, _hard(resource.RLIMIT_CPU)))
        filename, max_tokens, overlap_tokens = conn.recv()
        data = conn.recv_bytes()
        reply: Reply
        try:
            text = extract_text(filename, data)
            del data
            chunks = chunk_text(text, max_tokens, overlap_tokens)
            del text
            reply = ("ok", [(chunk.text, chunk.tokens) for chunk in chunks])
        except ExtractionError as exc:
            reply = ("error", exc.code, exc.message)
        retire = served == MAX_FILES or _status_bytes(b"VmHWM:") > RETIRE_AFTER_BYTES
        conn.send(("reply", reply, retire))
        del reply
        if retire:
            return


def _hard(limit: int) -> int:
    return resource.getrlimit(limit)[1]


def _status_bytes(field: bytes) -> int:
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def serve(control: socket.socket) -> None:
    """The zygote's loop: fork a child per socket received, report each child's end."""
    children: dict[int, Connection] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wake-up fd is written
    try:
        while True:
            _reap(children)
            readable, _, _ = select.select([control.fileno(), wake_r], [], [])
            if wake_r in readable:
                os.read(wake_r, 4096)
            if control.fileno() not in readable:
                continue
            message, fds, _, _ = socket.recv_fds(control, 16, 1)
            if not message:
                return  # the server is gone
            for fd in fds:
                _fork(Connection(fd), children, (control, wake_r, wake_w))
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)


def _fork(
    conn: Connection, children: dict[int, Connection], ours: tuple[socket.socket, int, int]
) -> None:
    pid = os.fork()
    if pid == 0:  # the child: none of the zygote's descriptors, default signals
        code = 0
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            ours[0].close()
            os.close(ours[1])
            os.close(ours[2])
            for other in children.values():
                other.close()
            extract(conn)
        except MemoryError:  # said by the exit code: answering could need memory again
            code = OUT_OF_MEMORY
        except BaseException:  # e.g. tiktoken's Rust code panicking on a refused allocation
            code = OUT_OF_MEMORY if _near_memory_limit() else 1
        finally:
            os._exit(code)
    children[pid] = conn
    try:
        conn.send(("pid", pid))
    except OSError:  # the server gave up on it already
        os.kill(pid, signal.SIGKILL)


def _near_memory_limit() -> bool:
    """Whether this process's address space came within 10% of RLIMIT_AS (VmPeak)."""
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        return False
    return _status_bytes(b"VmPeak:") >= limit * 0.9


def _reap(children: dict[int, Connection]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is None:
            continue
        try:
            conn.send(("exit", os.waitstatus_to_exitcode(status)))
        except OSError:
            pass
        conn.close()


def main() -> None:
    preload_parsers()
    encoding()
    # What is loaded now is never collected: without this, a child's first full collection
    # writes to every object's header and so copies the zygote's whole heap (copy-on-write).
    gc.freeze()
    serve(socket.socket(fileno=int(sys.argv[1])))


if __name__ == "__main__":
    main()
