"""Hardening round 2 (issue 11), request bodies: every body is bounded in size and time whatever
the method and framing (a chunked GET or DELETE too, on REST and on both MCP transports), with
the server's memory staying bounded; larger caps only on the upload routes of the one table."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest

from openai_assistant_mcp.engine.serve import LARGE_BODY_ROUTES
from openai_assistant_mcp.http.bodies import BodyRefused, streamed_body
from tests.mcp.fixtures import StartServer
from tests.mcp.servers import ServerProcess

CAP = 65536  # MAX_REQUEST_BODY_BYTES of the servers below
LIMITS = {"MAX_REQUEST_BODY_BYTES": str(CAP), "HTTP_READ_TIMEOUT": "1.5"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def api(start_server: StartServer) -> ServerProcess:
    return start_server("r2-bodies-api", "api", **LIMITS)


@pytest.fixture(scope="module")
def mcp_http(start_server: StartServer) -> ServerProcess:
    return start_server("r2-bodies-http", TRANSPORT="streamable-http", **LIMITS)


@pytest.fixture(scope="module")
def mcp_sse(start_server: StartServer) -> ServerProcess:
    return start_server("r2-bodies-sse", TRANSPORT="sse", **LIMITS)


def peak_rss_mib(server: ServerProcess) -> float:
    """The server's peak resident memory so far (VmHWM), in MiB."""
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


class Exchange:
    """One raw HTTP/1.1 request on a socket, the answer read by a thread meanwhile (the server
    may answer and close while the body is still being sent)."""

    def __init__(self, server: ServerProcess, head: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        self.answer = b""
        self.closed = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.sock.sendall(head.encode())

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.answer += chunk
        except OSError:
            pass
        self.closed.set()

    def send(self, data: bytes) -> bool:
        """False once the server stopped taking the body."""
        if self.closed.is_set():
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def finish(self, within: float = 10) -> bytes:
        self.closed.wait(within)
        self.sock.close()
        return self.answer


def _head(server: ServerProcess, method: str, path: str, framing: str) -> str:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
        f"{framing}\r\n"
    )


TARGETS = [
    ("api", "GET", "/v1/assistants"),
    ("api", "DELETE", "/v1/assistants/asst_x"),
    ("mcp_http", "GET", "/mcp"),
    ("mcp_http", "DELETE", "/mcp"),
    ("mcp_sse", "GET", "/sse"),
]


@pytest.mark.parametrize(("fixture", "method", "path"), TARGETS)
def test_a_chunked_body_on_any_method_is_capped_with_memory_bounded(
    request: pytest.FixtureRequest, fixture: str, method: str, path: str
) -> None:
    """Issue 11 item 1: 800 MB sent as a chunked GET grew the REST server to 1.4 GiB. Here 256
    MiB are offered; the server must answer 413 early and its peak RSS grow ≤ 64 MiB."""
    server: ServerProcess = request.getfixturevalue(fixture)
    before = peak_rss_mib(server)
    exchange = Exchange(server, _head(server, method, path, "Transfer-Encoding: chunked\r\n"))
    chunk = b"x" * MIB
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    while sent < 256 and exchange.send(frame):
        sent += 1
    answer = exchange.finish()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"MAX_REQUEST_BODY_BYTES" in answer
    assert peak_rss_mib(server) - before <= 64
    assert sent < 256  # it stopped taking the body


@pytest.mark.parametrize(("fixture", "method", "path"), TARGETS)
def test_a_trickled_body_on_any_method_times_out(
    request: pytest.FixtureRequest, fixture: str, method: str, path: str
) -> None:
    """A chunked body sent a byte every 0.3 s: refused with 408 after HTTP_READ_TIMEOUT (1.5 s)
    instead of holding the request open for as long as the client likes."""
    server: ServerProcess = request.getfixturevalue(fixture)
    exchange = Exchange(server, _head(server, method, path, "Transfer-Encoding: chunked\r\n"))
    started = time.monotonic()
    # Until the server stops taking the body: refused while the client still trickles, not
    # once it is done (the deadline only bounds a wait that would otherwise never end).
    while exchange.send(b"1\r\nx\r\n"):
        assert time.monotonic() - started < 120, "the trickled body was never refused"
        time.sleep(0.3)
    answer = exchange.finish()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert b"HTTP_READ_TIMEOUT" in answer


def test_only_the_upload_routes_take_bodies_over_the_cap(api: ServerProcess) -> None:
    """The per-route table: /v1/files is not held to MAX_REQUEST_BODY_BYTES (its own cap is
    512 MiB; a declared length beyond that is refused before any byte is read)."""
    assert {(r.method, r.path.pattern, r.limit) for r in LARGE_BODY_ROUTES} == {
        ("POST", "/v1/files", 512 * MIB + MIB),  # + room for the multipart form around the file
        ("POST", "/v1/uploads/[A-Za-z0-9_-]{1,128}/parts", 64 * MIB + MIB),
    }
    over = _head(api, "POST", "/v1/files", f"Content-Length: {514 * MIB}\r\n")
    answer = Exchange(api, over).finish()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"this route's cap" in answer
    body = b"{}" + b" " * (2 * CAP)  # twice the general cap
    exchange = Exchange(api, _head(api, "POST", "/v1/files", f"Content-Length: {len(body)}\r\n"))
    exchange.send(body)
    assert not exchange.finish().startswith(b"HTTP/1.1 413 ")
    exchange = Exchange(
        api, _head(api, "POST", "/v1/assistants", f"Content-Length: {len(body)}\r\n")
    )
    exchange.send(body)
    assert exchange.finish().startswith(b"HTTP/1.1 413 ")


async def test_a_streamed_upload_body_is_capped_and_timed_while_read() -> None:
    """What an upload route reads through the guard: chunks pass through as they come; past
    the route's cap, or when a chunk stalls, reading raises the 413/408 the client gets."""

    def feeding(*chunks: bytes, stall_after: int | None = None):  # type: ignore[no-untyped-def]
        messages = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]

        delivered = 0

        async def receive() -> dict[str, object]:
            nonlocal delivered
            if stall_after is not None and delivered >= stall_after:
                await asyncio.sleep(60)
            delivered += 1
            return messages.pop(0)

        return receive

    scope = {"type": "http", "method": "POST", "path": "/v1/files", "headers": []}
    receive = streamed_body(scope, feeding(b"a" * 10, b"b" * 10), limit=20, idle=1.0)
    assert (await receive())["body"] == b"a" * 10
    assert (await receive())["more_body"] is False
    receive = streamed_body(scope, feeding(b"a" * 15, b"b" * 15), limit=20, idle=1.0)
    await receive()
    with pytest.raises(BodyRefused) as refused:
        await receive()
    assert refused.value.status == 413
    receive = streamed_body(scope, feeding(b"a", b"b", stall_after=1), limit=20, idle=0.2)
    await receive()
    with pytest.raises(BodyRefused) as refused:
        await receive()
    assert refused.value.status == 408
