"""An httpx2 transport that keeps a copy of every server-sent event stream the client reads,
so tests can check exactly what the SDK's stream helpers consumed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2


class _Tee(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, copy: bytearray) -> None:
        self._inner = inner
        self._copy = copy

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._copy += chunk
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class TapTransport(httpx2.AsyncBaseTransport):
    """The default transport, recording each event stream's raw bytes in `streams`."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.streams: list[bytearray] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            copy = bytearray()
            self.streams.append(copy)
            assert isinstance(response.stream, httpx2.AsyncByteStream)
            response.stream = _Tee(response.stream, copy)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def take(self) -> list[list[tuple[str, str]]]:
        """The events of each stream read since the last call, as (event, data) pairs."""
        streams, self.streams = self.streams, []
        return [parse_sse(bytes(raw)) for raw in streams]


def parse_sse(raw: bytes) -> list[tuple[str, str]]:
    events = []
    for block in raw.decode().split("\n\n"):
        fields: dict[str, list[str]] = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))
        if "event" in fields or "data" in fields:
            events.append(("".join(fields.get("event", [""])), "\n".join(fields.get("data", []))))
    return events
