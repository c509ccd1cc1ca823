"""The `files` toolset through real MCP clients: over stdio, upload by path only under the
client's MCP roots (asked through the roots capability) or MCP_UPLOAD_DIRS; over HTTP, upload by
content only. Reading returns text, base64 or MCP image content."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters

from tests.mcp.fixtures import StartServer
from tests.mcp.servers import COMMAND, server_env, streamable_client
from tests.mcp.workflow import call, call_error

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def roots_client(env: dict[str, str], roots: list[Path], mode: str = "auto") -> Client:
    """A stdio client that shares `roots` with the server (the roots capability). Mode "auto"
    speaks protocol 2026-07-28 (roots asked inside the call's result), "legacy" an older one
    (roots asked with a roots/list request)."""

    async def list_roots(_: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=root.as_uri()) for root in roots])

    params = StdioServerParameters(command=COMMAND, env=env)
    return Client(params, list_roots_callback=list_roots, mode=mode)  # type: ignore[arg-type]


async def test_upload_by_path_only_under_the_clients_roots(tmp_path: Path) -> None:
    root, outside = tmp_path / "project", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "notes.txt").write_text("héllo from the project\n")
    (root / "pic.png").write_bytes(PNG)
    (outside / "secret.txt").write_text("not for models")
    (root / "link.txt").symlink_to(outside / "secret.txt")

    env = server_env(tmp_path / "data")
    with anyio.fail_after(60):
        async with roots_client(env, [root]) as client:
            uploaded = await call(client, "upload_file", {"path": str(root / "notes.txt")})
            assert uploaded["filename"] == "notes.txt" and uploaded["purpose"] == "assistants"

            for refused in (outside / "secret.txt", root / "link.txt", root / ".." / "elsewhere"):
                text = await call_error(client, "upload_file", {"path": str(refused)})
                assert "not inside the client's MCP roots or MCP_UPLOAD_DIRS" in text
                assert str(root) in text
            text = await call_error(client, "upload_file", {"path": "notes.txt"})
            assert "must be absolute" in text

            read = await call(client, "get_file_content", {"file_id": uploaded["id"]})
            assert (read["encoding"], read["content"]) == ("text", "héllo from the project\n")
            assert read["truncated"] is False
            part = await call(
                client, "get_file_content", {"file_id": uploaded["id"], "max_bytes": 2}
            )
            assert (part["content"], part["truncated"]) == ("h", True)  # é is not cut in half

            image = await call(client, "upload_file", {"path": str(root / "pic.png")})
            shown = await client.call_tool("get_file_content", {"file_id": image["id"]})
            assert not shown.is_error
            # Issue 9: [summary line, the result as JSON text, then the image itself].
            assert [c.type for c in shown.content] == ["text", "text", "image"]
            picture = shown.content[2]
            assert picture.mime_type == "image/png"  # type: ignore[union-attr]
            assert base64.b64decode(picture.data) == PNG  # type: ignore[union-attr]

            listed = await call(client, "list_files", {})
            assert [f["id"] for f in listed["data"]] == [image["id"], uploaded["id"]]
            assert (await call(client, "get_file", {"file_id": image["id"]}))["bytes"] == len(PNG)
            assert (await call(client, "delete_file", {"file_id": image["id"]}))["deleted"]
            text = await call_error(client, "get_file", {"file_id": image["id"]})
            assert "404" in text and image["id"] in text


async def test_roots_over_the_older_protocol(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "a.md").write_text("# title")
    (tmp_path / "b.md").write_text("# other")
    with anyio.fail_after(60):
        async with roots_client(server_env(tmp_path / "data"), [root], "legacy") as client:
            assert (await call(client, "upload_file", {"path": str(root / "a.md")}))["bytes"] == 7
            text = await call_error(client, "upload_file", {"path": str(tmp_path / "b.md")})
            assert "not inside the client's MCP roots" in text


async def test_upload_dirs_setting_without_roots(tmp_path: Path) -> None:
    allowed = tmp_path / "shared"
    allowed.mkdir()
    (allowed / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "other.csv").write_text("x")
    env = server_env(tmp_path / "data", MCP_UPLOAD_DIRS=str(allowed))
    with anyio.fail_after(60):
        async with Client(StdioServerParameters(command=COMMAND, env=env)) as client:
            uploaded = await call(client, "upload_file", {"path": str(allowed / "data.csv")})
            assert uploaded["bytes"] == 8
            text = await call_error(client, "upload_file", {"path": str(tmp_path / "other.csv")})
            assert "MCP_UPLOAD_DIRS" in text

    no_dirs = server_env(tmp_path / "data2")
    with anyio.fail_after(60):
        async with Client(StdioServerParameters(command=COMMAND, env=no_dirs)) as client:
            text = await call_error(client, "upload_file", {"path": str(allowed / "data.csv")})
            assert "shares no MCP roots and MCP_UPLOAD_DIRS is not set" in text


async def test_upload_by_content_over_http(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server("single-user-http", TRANSPORT="streamable-http")
    (tmp_path / "local.txt").write_text("local")
    with anyio.fail_after(60):
        async with streamable_client(server.url("/mcp")) as client:
            text = await call(client, "upload_file", {"content": "plain text", "filename": "t.txt"})
            assert text["bytes"] == len("plain text")
            binary = await call(
                client,
                "upload_file",
                {
                    "content": base64.b64encode(b"\x00\xff\x10").decode(),
                    "encoding": "base64",
                    "filename": "b.bin",
                    "purpose": "user_data",
                },
            )
            read = await call(client, "get_file_content", {"file_id": binary["id"]})
            assert read["encoding"] == "base64"
            assert base64.b64decode(read["content"]) == b"\x00\xff\x10"

            refused = await call_error(client, "upload_file", {"path": str(tmp_path / "local.txt")})
            assert "only over stdio" in refused
            bad = await call_error(
                client,
                "upload_file",
                {"content": "not base64!", "encoding": "base64", "filename": "x"},
            )
            assert "not valid base64" in bad
            both = await call_error(
                client, "upload_file", {"content": "x", "path": "/etc/passwd", "filename": "x"}
            )
            assert "either 'path' or 'content'" in both
