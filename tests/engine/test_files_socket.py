"""File bodies on a real socket behind the API's guard: larger than the general body cap, yet
capped per route (512 MB per file, 64 MB per upload part) and refused with OpenAI's envelope."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import openai
import pytest
from sqlalchemy import func, select

from openai_assistant_mcp.engine.app import create_app
from openai_assistant_mcp.engine.serve import api_guard as APIGuard
from openai_assistant_mcp.engine.settings import APIGuardSettings
from openai_assistant_mcp.engine.store import tables
from tests.support.engine import SpecViolations, engine_settings, engine_state, serve_on_socket

PART_CAP = 64 * 1024 * 1024


def declared_only(url: str, path: str, length: int) -> bytes:
    """The response to a POST that declares `length` bytes of body and sends none."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n\r\n".encode()
        )
        received = b""
        while chunk := sock.recv(65536):  # the server closes after refusing
            received += chunk
        return received


@pytest.fixture
def guarded_api(tmp_path: Path) -> Iterator[tuple[str, object]]:
    app = create_app(engine_settings(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", tmp_path))
    guard = APIGuard(app, APIGuardSettings(MAX_REQUEST_BODY_BYTES=1024 * 1024))
    with serve_on_socket(guard) as url:  # type: ignore[arg-type]
        yield url, app


async def test_file_bodies_have_their_own_cap(
    guarded_api: tuple[str, object], spec_violations: SpecViolations
) -> None:
    url, app = guarded_api
    http = httpx2.AsyncClient(event_hooks={"response": [spec_violations.hook]}, timeout=60)
    async with openai.AsyncOpenAI(
        api_key="sk-test-files-socket", base_url=url, max_retries=0, http_client=http
    ) as client:
        data = b"0123456789" * 300_000  # 3 MB: over the general 1 MB cap
        created = await client.files.create(file=("three.bin", data), purpose="assistants")
        assert (await client.files.content(created.id)).content == data

        async with httpx2.AsyncClient(timeout=60) as raw:
            general = declared_only(url, "/v1/assistants", 2 * 1024 * 1024)
            assert general.startswith(b"HTTP/1.1 413")  # other routes keep the general cap
            assert b"MAX_REQUEST_BODY_BYTES" in general
            declared = declared_only(url, "/v1/files", 600 * 1024 * 1024)
            assert declared.startswith(b"HTTP/1.1 413") and b"request_too_large" in declared

            upload = await client.uploads.create(
                bytes=PART_CAP * 2, filename="u.bin", mime_type="text/plain", purpose="assistants"
            )
            # A whole 64 MiB part (the SDK's default part size) fits with its multipart form.
            full = await client.uploads.parts.create(upload.id, data=b"\1" * PART_CAP)
            assert full.object == "upload.part"

            # Chunked: no length declared, so the guard counts the bytes as they arrive.
            async def body() -> AsyncIterator[bytes]:
                yield b'--x\r\nContent-Disposition: form-data; name="data"; filename="p"\r\n\r\n'
                block = b"\0" * (1024 * 1024)
                for _ in range(PART_CAP // len(block) + 2):
                    yield block
                yield b"\r\n--x--\r\n"

            streamed = await raw.post(
                f"{url}/uploads/{upload.id}/parts",
                content=body(),
                headers={"content-type": "multipart/form-data; boundary=x"},
            )
            assert streamed.status_code == 413
            assert "at most" in streamed.json()["error"]["message"]
        async with engine_state(app).db.read() as conn:  # type: ignore[arg-type]
            parts = (
                await conn.execute(select(func.count()).select_from(tables.upload_parts))
            ).scalar_one()
        assert parts == 1  # the full part; nothing of the refused one
