"""A fault-injecting HTTP proxy in front of a real Assistants API, standing in for a remote
backend that misbehaves (a real HTTP server on loopback, uvicorn in a background thread).

By default it forwards every request to the upstream and streams the answer back. Faults are
scripted per request: `proxy.script("POST /threads", Status(502))` answers the next matching
request (method and path prefix after /v1) with that fault instead; `forever(...)` keeps doing
so until `reset()`.

Faults: `Status(code, retry_after=None)` (OpenAI's error envelope), `Hang()` (never answers),
`Garbage(text)` (a 200 whose JSON body is malformed or truncated), `Cut(after_bytes)`
(forwards the upstream's answer but drops the connection after that many body bytes).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx2
import uvicorn


@dataclass
class Status:
    code: int
    message: str = "The backend failed on purpose."
    retry_after: float | None = None


@dataclass
class Hang:
    pass


@dataclass
class Garbage:
    text: str


@dataclass
class Cut:
    after_bytes: int


Fault = Status | Hang | Garbage | Cut


class _Aborted(Exception):
    """Raised inside a response to make uvicorn drop the connection mid-body."""


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = 0
        self.seen: list[str] = []  # "METHOD /path" of every request
        self._script: list[tuple[str, Fault]] = []
        self._forever: list[tuple[str, Fault]] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._http: httpx2.AsyncClient | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -----------------------------------------------------------------------------

    def script(self, match: str, *faults: Fault) -> None:
        with self._lock:
            self._script += [(match, fault) for fault in faults]

    def forever(self, match: str, fault: Fault) -> None:
        with self._lock:
            self._forever.append((match, fault))

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._forever.clear()
            self.seen.clear()

    def _fault_for(self, request: str) -> Fault | None:
        with self._lock:
            self.seen.append(request)
            for index, (match, fault) in enumerate(self._script):
                if request.startswith(match):
                    del self._script[index]
                    return fault
            for match, fault in self._forever:
                if request.startswith(match):
                    return fault
        return None

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="critical",
            lifespan="off",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fault-proxy"
        )
        self._thread.start()
        deadline = time.monotonic() + 60  # a readiness wait: slow only on a loaded machine
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fault proxy did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- HTTP ----------------------------------------------------------------------------------

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        fault = self._fault_for(f"{scope['method']} {path.removeprefix('/v1')}")
        if isinstance(fault, Hang):
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        if isinstance(fault, Status):
            error = {"message": fault.message, "type": "server_error", "param": None, "code": None}
            headers = {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after else {}
            await _answer(send, fault.code, json.dumps({"error": error}).encode(), headers)
            return
        if isinstance(fault, Garbage):
            await _answer(send, 200, fault.text.encode(), {})
            return
        await self._forward(scope, body, send, fault.after_bytes if fault else None)

    async def _forward(
        self, scope: dict[str, Any], body: bytes, send: Any, cut_after: int | None
    ) -> None:
        if self._http is None:
            self._http = httpx2.AsyncClient(timeout=60)
        query = scope.get("query_string", b"").decode()
        url = self.upstream + scope["path"] + (f"?{query}" if query else "")
        headers = [
            (k.decode(), v.decode())
            for k, v in scope["headers"]
            if k not in (b"host", b"content-length", b"connection")
        ]
        request = self._http.build_request(scope["method"], url, headers=headers, content=body)
        response = await self._http.send(request, stream=True)
        try:
            passed = [
                (k.encode(), v.encode())
                for k, v in response.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            ]
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": passed}
            )
            sent = 0
            async for chunk in response.aiter_raw():
                if cut_after is not None and sent + len(chunk) >= cut_after:
                    await send(
                        {
                            "type": "http.response.body",
                            "body": chunk[: max(0, cut_after - sent)],
                            "more_body": True,
                        }
                    )
                    await asyncio.sleep(0.05)
                    raise _Aborted  # uvicorn drops the connection: the body stops mid-way
                sent += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


async def _answer(send: Any, status: int, body: bytes, headers: dict[str, str]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *((k.encode(), v.encode()) for k, v in headers.items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
