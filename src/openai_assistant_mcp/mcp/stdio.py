"""The stdio wire without threads: stdin and stdout as asyncio pipe streams for the SDK's
`stdio_server`.

The SDK reads each line and writes (then flushes) each answer through a worker thread
(anyio.wrap_file): three thread hops a call, ~10 % of a short call's CPU. Pipes, sockets and
terminals are read and written on the event loop here instead; a regular file or the null
device (stdin redirected from one) keeps the SDK's own path. As the SDK does, fd 0 and fd 1
are pointed at the null device and at stderr while serving, so a child process or a stray
print cannot reach the wire, and restored afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import stat
from collections.abc import AsyncIterator, Callable

# A message longer than this is dropped (the SDK answers the invalid line it gets instead).
LINE_MAX = 64 * 1024 * 1024


class StdinLines:
    """Lines of the wire, as the SDK's stdio_server iterates them: `pending` first (lines
    already read by someone else), then the pipe's."""

    def __init__(self, reader: asyncio.StreamReader, pending: list[str] | None = None) -> None:
        self._reader = reader
        self._pending = list(pending or [])

    def __aiter__(self) -> StdinLines:
        return self

    async def __anext__(self) -> str:
        if self._pending:
            return self._pending.pop(0)
        line = await read_line(self._reader)
        if line is None:
            raise StopAsyncIteration
        return line


async def read_line(reader: asyncio.StreamReader) -> str | None:
    """The next line (None at the end); an overlong line is skipped, read as an empty one."""
    try:
        data = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        data = exc.partial
        if not data:
            return None
    except asyncio.LimitOverrunError:
        while True:  # drop the rest of the line
            try:
                await reader.readuntil(b"\n")
                break
            except asyncio.LimitOverrunError as exc:
                await reader.readexactly(exc.consumed)
            except asyncio.IncompleteReadError:
                return None
        return "\n"
    return data.decode("utf-8", errors="replace")


class StdoutText:
    """The SDK's stdout: each answer written to the pipe, flushed as the pipe drains;
    `outgoing` may change or hold back (None) a message first."""

    def __init__(
        self, writer: asyncio.StreamWriter, outgoing: Callable[[str], str | None] | None = None
    ) -> None:
        self._writer = writer
        self._outgoing = outgoing

    async def write(self, text: str) -> None:
        if self._outgoing is not None:
            held = self._outgoing(text)
            if held is None:
                return
            text = held
        self._writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self._writer.drain()


def _streamable(fd: int) -> bool:
    # Of character devices only terminals: epoll refuses the null device (stdin of
    # `docker run` without -i, or `</dev/null`), which then kept the SDK's own path.
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or (stat.S_ISCHR(mode) and os.isatty(fd))


def _divert(fd: int, to: int) -> int:
    """A private duplicate of `fd` (close-on-exec, above the standard range); `fd` itself now
    points where `to` does."""
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.dup2(to, fd)
    return private


@contextlib.asynccontextmanager
async def stdio_pipes() -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
    """The wire as (reader, writer) on the event loop, or None where stdin or stdout is not a
    pipe, socket or terminal (the caller then uses the SDK's threaded files)."""
    if not (_streamable(0) and _streamable(1)):
        yield None
        return
    loop = asyncio.get_running_loop()
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        wire_in = _divert(0, null)
    finally:
        os.close(null)
    wire_out = _divert(1, 2)
    blocking = os.get_blocking(wire_in), os.get_blocking(wire_out)
    reader = asyncio.StreamReader(limit=LINE_MAX)
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(wire_in, "rb", buffering=0)
    )
    write_transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(wire_out, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
    try:
        yield reader, writer
    finally:
        with contextlib.suppress(Exception):
            await writer.drain()
        # The wire back on fd 0 and 1, blocking again (a terminal is shared with the shell).
        for fd, private, was_blocking in ((0, wire_in, blocking[0]), (1, wire_out, blocking[1])):
            with contextlib.suppress(OSError):
                os.set_blocking(private, was_blocking)
                os.dup2(private, fd)
        read_transport.close()
        write_transport.close()
