"""The in-process ASGI transport streams: the first chunk of a response is readable while the
app is still producing the rest, closing early stops the app, and failures surface."""

from __future__ import annotations

import asyncio

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from openai_assistant_mcp.mcp.asgi_transport import StreamingASGITransport


class Probe:
    """What the app saw: the go-ahead it waits for, and whether it was stopped."""

    def __init__(self) -> None:
        self.go_on = asyncio.Event()
        self.stopped = asyncio.Event()


def make_app(probe: Probe) -> Starlette:
    async def stream(request: Request) -> StreamingResponse:
        async def body():
            try:
                yield b"first\n"
                await probe.go_on.wait()  # only a client that already read "first" can set it
                yield b"second\n"
                await asyncio.sleep(3600)  # never finishes on its own
            except asyncio.CancelledError:
                probe.stopped.set()
                raise

        return StreamingResponse(body(), media_type="text/plain")

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"got": (await request.json())["x"]})

    async def broken(request: Request) -> JSONResponse:
        raise RuntimeError("boom")

    return Starlette(
        routes=[
            Route("/stream", stream),
            Route("/echo", echo, methods=["POST"]),
            Route("/broken", broken),
        ]
    )


async def test_a_response_streams_while_the_app_produces_it() -> None:
    probe = Probe()
    async with httpx2.AsyncClient(
        transport=StreamingASGITransport(make_app(probe)), base_url="http://app"
    ) as client:
        with anyio.fail_after(60):  # a buffering transport would wait here forever
            async with client.stream("GET", "/stream") as response:
                chunks = response.aiter_bytes()
                assert await anext(chunks) == b"first\n"
                probe.go_on.set()
                assert await anext(chunks) == b"second\n"
            # Leaving early closed the response: the app was stopped, not left running.
            await probe.stopped.wait()


async def test_plain_requests_and_bodies() -> None:
    async with httpx2.AsyncClient(
        transport=StreamingASGITransport(make_app(Probe())), base_url="http://app"
    ) as client:
        answers = await asyncio.gather(*(client.post("/echo", json={"x": n}) for n in range(20)))
    assert [a.json()["got"] for a in answers] == list(range(20))


async def test_an_app_failure_is_an_error_not_a_hang() -> None:
    async with httpx2.AsyncClient(
        transport=StreamingASGITransport(make_app(Probe())), base_url="http://app"
    ) as client:
        with anyio.fail_after(5):
            answer = await client.get("/broken")
    # Starlette's error middleware answers 500 before re-raising; the transport keeps that.
    assert answer.status_code == 500


async def test_an_app_that_fails_before_answering_raises() -> None:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        raise ValueError("no answer")

    async with httpx2.AsyncClient(
        transport=StreamingASGITransport(app), base_url="http://app"
    ) as client:
        with pytest.raises(ValueError, match="no answer"):
            await client.get("/")
