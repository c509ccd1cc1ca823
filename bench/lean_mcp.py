"""Lean MCP clients for load: the JSON-RPC and HTTP the real clients send, written and read by hand
on asyncio streams, so that the load generator's CPU stays small beside the server's (20 MCP
SDK clients in one process spent more CPU than the server they measured: bench/RESULTS.md,
"Why 20x20 at 50 ms takes ~1.8 s").

Two protocols, as the clients in use speak them:
- "2025-06-18": `initialize`, `notifications/initialized`, then `tools/call` in a session
  (Claude, Cursor, mcpo);
- "2026-07-28": what the MCP Python SDK 2.x client sends: `server/discover`, then requests
  carrying the protocol version, client info and capabilities in `_meta`; after its first
  `tools/call` the SDK lists the tools once (to check structured results against the output
  schemas), and so does this client.

Over streamable HTTP (`/mcp`) each request is a POST answered with JSON or an SSE stream; over
SSE (`/sse`) a GET opens the event stream, its `endpoint` event names the message URL, and each
request is a POST (202) answered on the stream. The requests' bytes were compared with the SDK
client's through a recording proxy (bench/RESULTS.md, "A lean load generator"): the same
methods, paths, MCP headers and JSON-RPC bodies; only httpx2's own headers (User-Agent,
Accept-Encoding, Connection) are left out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

CLIENT_INFO = {"name": "mcp", "version": "0.1.0"}
PROTOCOLS = ("2025-06-18", "2026-07-28")


def initialize_request(protocol: str) -> dict[str, Any]:
    if protocol == "2025-06-18":
        return {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": protocol,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        }
    return {"jsonrpc": "2.0", "id": 0, "method": "server/discover", "params": {}}


class _Lean:
    """What both transports share: ids, `_meta`, the SDK's one tools/list after a first call."""

    protocol: str

    def __init__(self, protocol: str) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol: one of {PROTOCOLS}")
        self.protocol = protocol
        self._id = 0
        self._listed = False

    def _message(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        if self.protocol != "2025-06-18":
            params = {
                **params,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": self.protocol,
                    "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            }
        return {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def open(self) -> None:
        if self.protocol == "2025-06-18":
            await self.request("initialize", initialize_request(self.protocol)["params"])
            await self.notify("notifications/initialized")
        else:
            await self.request("server/discover", {})

    async def notify(self, method: str) -> None:
        raise NotImplementedError

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        answer = await self.request("tools/call", {"name": name, "arguments": arguments})
        if self.protocol != "2025-06-18" and not self._listed:
            self._listed = True
            await self.request("tools/list", {})
        return answer


class LeanHttpClient(_Lean):
    """Streamable HTTP (`/mcp`) over one keep-alive HTTP/1.1 connection."""

    def __init__(self, port: int, protocol: str = "2025-06-18") -> None:
        super().__init__(protocol)
        self.port = port
        self.session_id: str | None = None

    async def __aenter__(self) -> LeanHttpClient:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.session_id:
            # Ends the session as clients should: left open, the next round's sessions would
            # find this client's taken and evict each other (never-used ones go first).
            self.writer.write(
                f"DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Mcp-Session-Id: {self.session_id}\r\nMCP-Protocol-Version: {self.protocol}\r\n"
                "Content-Length: 0\r\n\r\n".encode()
            )
            await self.reader.readline()  # its status line: the session is gone
        self.writer.close()

    async def notify(self, method: str) -> None:
        await self._post({"jsonrpc": "2.0", "method": method})

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(method, params)
        extra = ""
        if self.protocol != "2025-06-18":
            extra = f"Mcp-Method: {method}\r\n"
            if method == "tools/call":
                extra += f"Mcp-Name: {params['name']}\r\n"
        content_type, body = await self._post(message, extra)
        if content_type.startswith("application/json"):
            return dict(json.loads(body)["result"])
        for line in body.decode().splitlines():  # an SSE stream: the answer is the last event
            if line.startswith("data:") and '"id"' in line:
                return dict(json.loads(line[5:])["result"])
        raise RuntimeError(f"no answer in {body[:200]!r}")

    async def _post(self, message: dict[str, Any], extra: str = "") -> tuple[str, bytes]:
        body = json.dumps(message, separators=(",", ":")).encode()
        if self.session_id:
            extra += f"Mcp-Session-Id: {self.session_id}\r\n"
        if message["method"] != "initialize":
            extra += f"MCP-Protocol-Version: {self.protocol}\r\n"
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n"
        )
        self.writer.write(head.encode() + body)
        status, headers = await read_head(self.reader)
        if status >= 400:
            raise RuntimeError(f"HTTP {status}")
        self.session_id = headers.get("mcp-session-id", self.session_id)
        if "content-length" in headers:
            return headers.get("content-type", ""), await self.reader.readexactly(
                int(headers["content-length"])
            )
        chunks = []  # chunked: an SSE stream, read to its end
        while chunk := await read_chunk(self.reader):
            chunks.append(chunk)
        return headers.get("content-type", ""), b"".join(chunks)


class LeanSseClient(_Lean):
    """The SSE transport: one connection holds `GET /sse`'s event stream, another keeps alive
    for the POSTs to the endpoint it names."""

    def __init__(self, port: int, protocol: str = "2025-06-18") -> None:
        super().__init__(protocol)
        self.port = port
        self._buffer = b""
        self._early: dict[int, dict[str, Any]] = {}

    async def __aenter__(self) -> LeanSseClient:
        self.events, self.stream = await asyncio.open_connection("127.0.0.1", self.port)
        self.stream.write(
            f"GET /sse HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-store\r\n\r\n".encode()
        )
        status, _ = await read_head(self.events)
        if status != 200:
            raise RuntimeError(f"GET /sse: HTTP {status}")
        kind, data = await self._event()
        if kind != "endpoint":
            raise RuntimeError(f"the stream began with {kind!r}, not the endpoint")
        self.endpoint = data
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        self.writer.close()
        self.stream.close()

    async def _event(self) -> tuple[str, str]:
        """The next event on the stream: (event name, data)."""
        while b"\r\n\r\n" not in self._buffer and b"\n\n" not in self._buffer:
            chunk = await read_chunk(self.events)
            if not chunk:
                raise RuntimeError("the event stream ended")
            self._buffer += chunk
        ends = [i for i in (self._buffer.find(b"\r\n\r\n"), self._buffer.find(b"\n\n")) if i >= 0]
        end = min(ends)
        raw, self._buffer = self._buffer[:end], self._buffer[end:].lstrip(b"\r\n")
        kind, data = "message", []
        for line in raw.decode().splitlines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        return kind, "\n".join(data)

    async def notify(self, method: str) -> None:
        await self._post({"jsonrpc": "2.0", "method": method})

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(method, params)
        await self._post(message)
        while message["id"] not in self._early:
            kind, data = await self._event()
            if kind == "message" and data:
                answer = json.loads(data)
                if "id" in answer and ("result" in answer or "error" in answer):
                    self._early[answer["id"]] = answer
        answer = self._early.pop(message["id"])
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return dict(answer["result"])

    async def _post(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        head = (
            f"POST {self.endpoint} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Accept: */*\r\nContent-Length: {len(body)}\r\nContent-Type: application/json\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status, headers = await read_head(self.reader)
        if status >= 400:
            raise RuntimeError(f"POST {self.endpoint}: HTTP {status}")
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))


def lean_client(transport: str, port: int, protocol: str = "2025-06-18") -> _Lean:
    """A lean client of `transport` ("streamable-http" or "sse") on 127.0.0.1:`port`."""
    if transport == "sse":
        return LeanSseClient(port, protocol)
    return LeanHttpClient(port, protocol)


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """An HTTP response's status and headers (lower-cased names)."""
    status = await reader.readline()
    if not status:
        raise RuntimeError("the server closed the connection")
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        key, _, value = line.decode().partition(":")
        headers[key.strip().lower()] = value.strip()
    return int(status.split()[1]), headers


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked body; b"" at its end."""
    size = int((await reader.readline()).strip(), 16)
    if not size:
        await reader.readline()
        return b""
    chunk = await reader.readexactly(size)
    await reader.readline()
    return chunk
