"""Text extraction and chunking outside the server process, bounded and stoppable.

A crafted file (a small DOCX holding 200 MB of XML, a PDF whose pages share one huge content
stream, megabytes of HTML) can cost a parser gigabytes and minutes. So files are extracted by
child processes, forked by a zygote process that has imported the parsers and loaded the
tokenizer once (`extraction_child.py`). A child extracts one file at a time, under RLIMIT_AS
(INGEST_EXTRACTION_MEMORY_MB) and RLIMIT_CPU set anew for each file; the server kills it at
the wall-clock deadline (INGEST_EXTRACTION_SECONDS) or when the ingestion task is cancelled
(its file or store was deleted, the server stops). A file over a limit fails alone, its
`last_error` naming the limit; a child that answered is kept warm for the next file.

Our own children rather than a `ProcessPoolExecutor`: killing a runaway worker of that pool
breaks it for every other file. Our own zygote rather than multiprocessing's forkserver: its
children re-run the server's main script (`__main__`) before working, which costs ~1.3 s per
child for the console script, and runs an unguarded script's server again. The zygote and
its children get no secrets: their environment is reduced to what Python needs."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .text import ExtractionError, chunk_text, extract_text, is_plain_text

OUT_OF_MEMORY = 3  # extraction_child.OUT_OF_MEMORY (that module is never imported here)

MIB = 1024 * 1024
# Plain text up to this size is chunked in a server thread: ~0.3 s of CPU and ~10 MB at most,
# where a child costs ~5-20 ms per file on this 2-core machine, more than a small file's work.
IN_SERVER_TEXT_BYTES = MIB
_ENVIRONMENT = ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "HOME")


@dataclass(frozen=True)
class ExtractionLimits:
    memory_mb: int
    seconds: float


class Zygote:
    """The process that forks extraction children; started at first use, again if it died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def fork(self) -> Connection:
        """A connection to a new child (blocking: call it in a thread)."""
        with self._lock:
            for attempt in (1, 2):
                control = self._running()
                ours, theirs = socket.socketpair()
                try:
                    socket.send_fds(control, [b"f"], [theirs.fileno()])
                except OSError:  # the zygote died: start another once
                    ours.close()
                    self._close()
                    if attempt == 2:
                        raise
                    continue
                finally:
                    theirs.close()
                return Connection(ours.detach())
        raise AssertionError("unreachable")

    def _running(self) -> socket.socket:
        if self._process is not None and self._process.poll() is None and self._control:
            return self._control
        self._close()
        ours, theirs = socket.socketpair()
        env = {name: os.environ[name] for name in _ENVIRONMENT if name in os.environ}
        self._process = subprocess.Popen(
            [sys.executable, "-m", __package__ + ".extraction_child", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            env=env,
        )
        theirs.close()
        self._control = ours
        return ours

    def _close(self) -> None:
        if self._control is not None:
            self._control.close()  # the zygote ends when it reads the end of this socket
            self._control = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5)
            self._process = None

    def close(self) -> None:
        with self._lock:
            self._close()


ZYGOTE = Zygote()


@dataclass
class Child:
    """A warm extraction child: its connection and pid."""

    conn: Connection
    pid: int
    warm: bool = False  # it has answered before and waited idle since


class Children:
    """Idle children kept warm between files (at most MAX_IDLE): a fork costs ~10-25 ms on
    this loaded 2-core machine, and a child's first file pays its copy-on-write faults; a
    warm child answers a small file in about a millisecond. A child past a limit, killed or
    retiring never comes back."""

    MAX_IDLE = 4

    def __init__(self) -> None:
        self._idle: list[Child] = []
        self._lock = threading.Lock()

    def take(self, fresh: bool = False) -> Child:
        """An idle child, or a new one (`fresh`: always; blocking: call it in a thread)."""
        with self._lock:
            while self._idle and not fresh:
                child = self._idle.pop()
                if not child.conn.poll():  # anything waiting means it died while idle
                    return child
                child.conn.close()
        conn = ZYGOTE.fork()
        try:
            kind, pid = conn.recv()
        except BaseException:
            conn.close()
            raise
        assert kind == "pid"
        return Child(conn, pid)

    def give_back(self, child: Child) -> None:
        child.warm = True
        with self._lock:
            if len(self._idle) < self.MAX_IDLE:
                self._idle.append(child)
                return
        child.conn.close()  # the child reads the end and exits


CHILDREN = Children()


async def extract_chunks(
    filename: str, data: bytes, max_tokens: int, overlap_tokens: int, limits: ExtractionLimits
) -> list[tuple[str, int]]:
    """The file's chunks as (text, tokens), extracted in a child process within `limits`.
    Raises ExtractionError (the file fails with its code and message); cancelling the caller
    kills the child. Plain text of at most IN_SERVER_TEXT_BYTES is chunked in a server thread
    instead: no parser runs, its cost is bounded by its size, and the child would cost more
    than the work (bench/RESULTS.md)."""
    if len(data) <= IN_SERVER_TEXT_BYTES and is_plain_text(filename, data):
        return await asyncio.to_thread(
            _plain_text_chunks, filename, data, max_tokens, overlap_tokens
        )
    request = (filename, max_tokens, overlap_tokens)
    child = await asyncio.to_thread(CHILDREN.take)
    try:
        return await _extract_in(child, request, data, limits)
    except ExtractionError as error:
        # A warm child can die while idle (killed, or the OOM killer's pick) just before it is
        # taken, its exit not yet reported: the file never reached it. One more try, in a
        # fresh child; a fresh child's failure is the file's.
        if error.code != "server_error" or not child.warm:
            raise
    return await _extract_in(await asyncio.to_thread(CHILDREN.take, True), request, data, limits)


async def _extract_in(
    child: Child, request: tuple[str, int, int], data: bytes, limits: ExtractionLimits
) -> list[tuple[str, int]]:
    """The file's chunks from `child` (given back when it can take another file)."""
    cpu = max(1, math.ceil(limits.seconds))
    # The blocking exchange runs in a thread. Whatever ends the wait (the deadline, a cancel),
    # the child is killed and the thread waited for (it ends when the zygote reports the
    # child's exit) before the connection is closed.
    exchange = asyncio.ensure_future(
        asyncio.to_thread(_exchange, child.conn, (limits.memory_mb * MIB, cpu), request, data)
    )
    reusable = False
    try:
        reply, exitcode = await asyncio.wait_for(asyncio.shield(exchange), limits.seconds)
        reusable = reply is not None and not reply[2]
    except TimeoutError:
        raise ExtractionError(
            "invalid_file",
            f"Extracting the file's text took longer than {limits.seconds:g} s "
            "(INGEST_EXTRACTION_SECONDS).",
        ) from None
    except (EOFError, OSError):
        raise ExtractionError(
            "server_error", "The text extraction process stopped; add the file again."
        ) from None
    finally:
        if not exchange.done():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            with contextlib.suppress(BaseException):
                await exchange
        if reusable:
            CHILDREN.give_back(child)
        else:
            child.conn.close()
    if reply is None:
        raise _died(exitcode, limits)
    return _result(reply[1])


def _plain_text_chunks(
    filename: str, data: bytes, max_tokens: int, overlap_tokens: int
) -> list[tuple[str, int]]:
    chunks = chunk_text(extract_text(filename, data), max_tokens, overlap_tokens)
    return [(chunk.text, chunk.tokens) for chunk in chunks]


def _exchange(
    conn: Connection, limits: tuple[int, int], request: tuple[str, int, int], data: bytes
) -> tuple[Any, int | None]:
    """One file with one child: (("reply", answer, retiring), None), or (None, the child's
    exit code) when it ended without answering."""
    try:
        conn.send(limits)
        conn.send(request)
        conn.send_bytes(data)
    except OSError:  # the child ended while the file was sent (e.g. its memory limit): the
        pass  # zygote's report of its exit, already written, is read below
    message = conn.recv()
    if message[0] == "exit":
        return None, message[1]
    return message, None


def _result(answer: Any) -> list[tuple[str, int]]:
    if answer[0] == "ok":
        chunks: list[tuple[str, int]] = answer[1]
        return chunks
    raise ExtractionError(answer[1], answer[2])


def _memory(limits: ExtractionLimits) -> ExtractionError:
    return ExtractionError(
        "invalid_file",
        f"Extracting the file's text needs more than {limits.memory_mb} MiB of memory "
        "(INGEST_EXTRACTION_MEMORY_MB).",
    )


def _died(exitcode: int | None, limits: ExtractionLimits) -> ExtractionError:
    """Why a child ended without answering, as the file's error."""
    if exitcode == -signal.SIGXCPU:
        return ExtractionError(
            "invalid_file",
            f"Extracting the file's text took more than {math.ceil(limits.seconds)} s of CPU "
            "(INGEST_EXTRACTION_SECONDS).",
        )
    if exitcode in (OUT_OF_MEMORY, -signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS):
        return _memory(limits)  # a parser's C code failing an allocation under RLIMIT_AS
    return ExtractionError(
        "server_error", f"The text extraction process ended unexpectedly (exit code {exitcode})."
    )
